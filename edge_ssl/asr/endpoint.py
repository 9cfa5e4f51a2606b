"""Endpointing: where an utterance starts and ends, from per-window VAD decisions.

The rules follow k2/sherpa-onnx's endpoint rules, with VAD silence in place of decoder blanks:
- an utterance ends after ``trailing_silence`` seconds of non-speech following speech (sherpa rule 2);
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


@dataclass
class EndpointConfig:
    trailing_silence: float = 0.5   # s of non-speech after speech that ends an utterance
    min_speech: float = 0.25        # s; shorter speech is discarded (no final text)
    max_utterance: float = 20.0     # s; longer utterances are cut (also bounds decode cost and memory)
    speech_pad: float = 0.1         # s of audio kept before and after the detected speech

    def validate(self) -> None:
        if self.trailing_silence <= 0 or self.min_speech < 0 or self.speech_pad < 0:
            raise ValueError("endpoint: trailing_silence must be > 0, min_speech and speech_pad >= 0")
        if self.speech_pad > self.trailing_silence:
            raise ValueError(f"endpoint.speech_pad ({self.speech_pad}) must not exceed trailing_silence "
                             f"({self.trailing_silence}): the end pad must be heard before the endpoint")
        if self.max_utterance <= self.min_speech:
            raise ValueError("endpoint.max_utterance must exceed min_speech")


@dataclass(frozen=True)
class Segment:
    start: int         # first sample, padded
    end: int           # one past the last sample, padded
    speech_end: int    # one past the last speech sample (unpadded): "end of speech" for latency
    detected_at: int   # stream position at which the endpoint was decided
    reason: Reason

    @property
    def final(self) -> bool:
        return self.reason != "too_short"


class Endpointer:
    """Feed one decision per VAD window; get a ``Segment`` back when an utterance ends."""

    def __init__(self, cfg: EndpointConfig, sample_rate: int, window: int):
        cfg.validate()
        self.window = window
        self.trailing = round(cfg.trailing_silence * sample_rate)
        self.min_speech = round(cfg.min_speech * sample_rate)
        self.max_len = round(cfg.max_utterance * sample_rate)
        self.pad = round(cfg.speech_pad * sample_rate)
        self.pos = 0               # samples decided so far
        self.start: int | None = None  # speech start (unpadded) of the open utterance
        self.last_speech = 0       # one past the last speech sample of the open utterance
        self.prev_end = 0          # padded end of the previous segment: pads never overlap it

    @property
    def open_start(self) -> int | None:
        """Padded start of the utterance in progress, or None between utterances."""
        return None if self.start is None else max(self.start - self.pad, self.prev_end)

    def update(self, speech: bool) -> Segment | None:
        lo, self.pos = self.pos, self.pos + self.window
        if speech:
            if self.start is None:
                self.start = lo
            self.last_speech = self.pos
            if self.pos + self.window - self.open_start > self.max_len:  # one more window would overflow
                seg = self._close(self.pos, "max_length", pad_end=False)
                self.start = self.pos  # the speech goes on: a new utterance starts right here
                return seg
            return None
        if self.start is not None and self.pos - self.last_speech >= self.trailing:
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
                      detected_at=self.pos if limit is None else limit, reason=reason)
        if seg.final:
            self.prev_end = end
        return seg
