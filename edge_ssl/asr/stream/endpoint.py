"""Endpointing: where an utterance starts and ends, from per-window VAD decisions.

The rules follow k2/sherpa-onnx's endpoint rules, with VAD silence in place of decoder blanks:
- an utterance ends after ``trailing_silence`` seconds of non-speech following speech (sherpa rule 2);
- with ``commit_silence`` set (live use), a segment already ends after that shorter pause, so its text can be
  shown at once, provided the VAD is sure it is a pause: the mean speech probability of its windows is at
  most ``commit_max_prob`` (hesitant dips inside a sentence score higher than the silence after it; an
  unsure pause is committed later, once its mean falls, or at ``trailing_silence``). If speech resumes
  within ``trailing_silence`` of it, the next segment ``joins`` it: the display appends to the same line
  and never rewrites what it showed. ``trailing_silence`` then only decides where a line of text ends;
- speech shorter than ``min_speech`` seconds (a click, a cough) is dropped, never finalised (the
  "must contain speech" part of rule 1);
- an utterance reaching ``max_utterance`` seconds is cut there and a new one begins (rule 3).
Positions are sample indices in the stream. Segments carry ``speech_pad`` seconds of audio on both sides,
as Silero's ``get_speech_timestamps`` does, so word onsets/offsets the VAD trims are kept.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Reason = Literal["silence", "max_length", "end_of_stream", "too_short"]

# Live defaults (``listen``): text is committed after this short pause and appended to if speech resumes.
# Tuned on the dev replay set (bench/latency.py --set dev), reported on the test set (docs/apps.md).
LIVE_COMMIT_SILENCE = 0.096   # s (3 VAD windows)
LIVE_COMMIT_MAX_PROB = 0.1    # of the pause's mean VAD probability
LIVE_SPEECH_PAD = 0.032       # s; < LIVE_COMMIT_SILENCE, so the segment is decoded before its endpoint


@dataclass
class EndpointConfig:
    trailing_silence: float = 0.5   # s of non-speech after speech that ends an utterance
    min_speech: float = 0.25        # s; shorter speech is discarded (no final text)
    max_utterance: float = 20.0     # s; longer utterances are cut (also bounds decode cost and memory)
    speech_pad: float = 0.1         # s of audio kept before and after the detected speech
    commit_silence: float | None = None  # s of non-speech that ends a segment whose line may go on; None: off
    commit_max_prob: float = 1.0    # commit only while the pause's mean VAD probability is at most this

    @property
    def end_silence(self) -> float:
        """Non-speech (s) after which a segment ends."""
        return self.commit_silence if self.commit_silence is not None else self.trailing_silence

    def validate(self) -> None:
        if self.trailing_silence <= 0 or self.min_speech < 0 or self.speech_pad < 0:
            raise ValueError("endpoint: trailing_silence must be > 0, min_speech and speech_pad >= 0")
        if self.commit_silence is not None and not 0 < self.commit_silence <= self.trailing_silence:
            raise ValueError(f"endpoint.commit_silence ({self.commit_silence}) must be in (0, trailing_silence "
                             f"({self.trailing_silence})]")
        if not 0 < self.commit_max_prob <= 1:
            raise ValueError(f"endpoint.commit_max_prob must be in (0, 1], got {self.commit_max_prob}")
        if self.speech_pad > self.end_silence:
            raise ValueError(f"endpoint.speech_pad ({self.speech_pad}) must not exceed the silence that ends a "
                             f"segment ({self.end_silence}): the end pad must be heard before the endpoint")
        if self.max_utterance <= self.min_speech:
            raise ValueError("endpoint.max_utterance must exceed min_speech")


def live_endpoint(**overrides) -> EndpointConfig:
    """The endpoint rules ``listen`` uses: commit text after a short, sure pause; a line ends after 0.5 s."""
    return EndpointConfig(**{"commit_silence": LIVE_COMMIT_SILENCE, "commit_max_prob": LIVE_COMMIT_MAX_PROB,
                             "speech_pad": LIVE_SPEECH_PAD, **overrides})


@dataclass(frozen=True)
class Segment:
    start: int         # first sample, padded
    end: int           # one past the last sample, padded
    speech_end: int    # one past the last speech sample (unpadded): "end of speech" for latency
    detected_at: int   # stream position at which the endpoint was decided
    reason: Reason
    joins: bool = False  # continues the previous final's line (speech resumed within trailing_silence of it)

    @property
    def final(self) -> bool:
        return self.reason != "too_short"


class Endpointer:
    """Feed one decision per VAD window; get a ``Segment`` back when an utterance ends."""

    def __init__(self, cfg: EndpointConfig, sample_rate: int, window: int):
        cfg.validate()
        self.window = window
        self.trailing = round(cfg.trailing_silence * sample_rate)
        self.end_after = round(cfg.end_silence * sample_rate)
        self.max_prob = cfg.commit_max_prob if cfg.commit_silence is not None else 1.0
        self.min_speech = round(cfg.min_speech * sample_rate)
        self.max_len = round(cfg.max_utterance * sample_rate)
        self.pad = round(cfg.speech_pad * sample_rate)
        self.pos = 0               # samples decided so far
        self.start: int | None = None  # speech start (unpadded) of the open utterance
        self.last_speech = 0       # one past the last speech sample of the open utterance
        self.prev_end = 0          # padded end of the previous segment: pads never overlap it
        self.line_end: int | None = None  # speech end of the previous final segment
        self.joins = False         # the open utterance continues the previous final's line
        self.pause_prob = 0.0      # sum of the VAD probabilities since the last speech window

    @property
    def open_start(self) -> int | None:
        """Padded start of the utterance in progress, or None between utterances."""
        return None if self.start is None else max(self.start - self.pad, self.prev_end)

    def update(self, speech: bool, prob: float = 0.0) -> Segment | None:
        """One VAD window: its decision and (for ``commit_max_prob``) its speech probability."""
        lo, self.pos = self.pos, self.pos + self.window
        if speech:
            self.pause_prob = 0.0
            if self.start is None:
                self.start = lo
                self.joins = self.line_end is not None and lo - self.line_end < self.trailing
            self.last_speech = self.pos
            if self.pos + self.window - self.open_start > self.max_len:  # one more window would overflow
                seg = self._close(self.pos, "max_length", pad_end=False)
                self.start, self.joins = self.pos, True  # the speech goes on: a new utterance starts right here
                return seg
            return None
        self.pause_prob += prob
        silence = self.pos - self.last_speech
        sure = self.pause_prob * self.window <= self.max_prob * silence or silence >= self.trailing
        if self.start is not None and silence >= self.end_after and sure:
            seg = self._close(self.last_speech, "silence")
            self.start = None
            return seg
        return None

    def flush(self, total: int) -> Segment | None:
        """End of stream at sample ``total``: close the open utterance, if any."""
        if self.start is None:
            return None
        seg = self._close(self.last_speech, "end_of_stream", limit=total)
        self.start = None
        return seg

    def _close(self, speech_end: int, reason: Reason, pad_end: bool = True, limit: int | None = None) -> Segment:
        start = self.open_start
        if speech_end - self.start < self.min_speech:
            reason = "too_short"
        end = min(speech_end + (self.pad if pad_end else 0), limit if limit is not None else self.pos)
        seg = Segment(start=start, end=end, speech_end=speech_end,
                      detected_at=self.pos if limit is None else limit, reason=reason, joins=self.joins)
        if seg.final:
            self.prev_end, self.line_end = end, speech_end
        return seg
