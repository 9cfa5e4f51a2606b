"""The streaming session: audio chunks in -> partial texts while someone speaks, a final text at each endpoint.

Two ways to decode the growing segment:
- ``redecode`` (sherpa-onnx's VAD + offline-model apps): every ``partial_interval`` the whole segment so
  far is run through the model; at the endpoint the segment is decoded once more, so the final text is
  exactly the offline transcription of that segment.
- ``chunked``: the encoder runs once per ``chunk`` of new audio, seeing ``left_context`` before and
  ``right_context`` after it, and only the chunk's frames are kept. Each sample is encoded a bounded
  number of times, and at the endpoint only the last chunk is left to compute; the price is that the
  model never sees the whole utterance at once (accuracy is measured in ``bench/latency.py``).

The recognizer is anything with ``sample_rate``, ``min_samples``, ``max_samples``, ``hop``,
``receptive_field``, ``logits(wave (S,)) -> (T, V)`` and ``text(logits) -> str``; ``open_recognizer``
wraps the ``edge_ssl.runtime`` Runner of any artifact (eager .safetensors, .onnx, .pte).

Latency of a final, per utterance: ``hangover`` (audio that had to arrive after the end of speech before
the endpoint could be decided: the endpoint rule's silence plus the VAD window), ``queue`` (from the capture
of that decision point to processing: the rest of its chunk plus the time the chunk waited), ``decode`` and
``display``.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Protocol

import numpy as np

from edge_ssl.asr.decode.greedy import greedy_ids
from edge_ssl.asr.stream.endpoint import EndpointConfig, Segment
from edge_ssl.asr.stream.segment import Segmenter
from edge_ssl.asr.decode.tokenizer import CharTokenizer
from edge_ssl.asr.stream.vad import WINDOW, VadConfig, open_detector
from edge_ssl.errors import EdgeSSLError

log = logging.getLogger(__name__)


# ---- recognizer ----

class Recognizer(Protocol):
    sample_rate: int
    min_samples: int
    max_samples: int | None
    hop: int              # samples per output frame
    receptive_field: int  # samples seen by one output frame

    def logits(self, wave: np.ndarray) -> np.ndarray:
        """wave (S,) float32 -> logits (T, V)."""

    def text(self, logits: np.ndarray) -> str: ...


class RunnerRecognizer:
    """Adapts an ``edge_ssl.runtime`` Runner (eager / ONNX / ExecuTorch artifact) to ``Recognizer``."""

    def __init__(self, runner):
        self.runner = runner
        self.sample_rate, self.min_samples, self.max_samples = runner.sample_rate, runner.min_samples, runner.max_samples
        self.hop, self.receptive_field = runner.frame_stride, runner.meta.receptive_field
        self.tokenizer, self.blank_id = CharTokenizer(tuple(runner.tokens)), runner.blank_id

    def logits(self, wave: np.ndarray) -> np.ndarray:
        return self.runner.run(np.ascontiguousarray(wave, dtype=np.float32))  # (T, V)

    def text(self, logits: np.ndarray) -> str:
        return self.tokenizer.decode(greedy_ids(logits, self.blank_id))


def open_recognizer(path: str | Path, threads: int | None = None) -> Recognizer:
    """A model artifact (.safetensors / .onnx / .pte) -> a recognizer over its ``edge_ssl.runtime`` Runner.

    ``threads``: intra-op threads for the model (None: the runtime's default). On 2 busy cores one thread
    can be several times faster than two contending ones.
    """
    from edge_ssl.runtime import open_runner

    return RunnerRecognizer(open_runner(path, threads=threads))


def recognizer_logits(rec: Recognizer, wave: np.ndarray) -> np.ndarray:
    """Logits for a wave of any length: padded up to ``min_samples``, cut into ``max_samples`` pieces."""
    if len(wave) < rec.min_samples:
        wave = np.pad(wave, (0, rec.min_samples - len(wave)))
    if not rec.max_samples or len(wave) <= rec.max_samples:
        return rec.logits(wave)
    step = rec.max_samples - rec.max_samples % rec.hop
    pieces = [wave[i:i + step] for i in range(0, len(wave), step)]
    return np.concatenate([recognizer_logits(rec, p) for p in pieces if len(p) > 0])


def transcribe_wave(rec: Recognizer, wave: np.ndarray) -> str:
    """Offline transcription of one segment: what a final must equal in ``redecode`` mode."""
    return rec.text(recognizer_logits(rec, wave))


# ---- configuration; the chunked encoder ----

@dataclass
class StreamConfig:
    mode: Literal["redecode", "chunked"] = "redecode"
    partial_interval: float = 0.2  # s of audio between partial results (~200 ms, as sherpa-onnx's apps)
    chunk: float = 0.64            # chunked: s of new audio per encoder call
    left_context: float = 1.28     # chunked: s of past audio the encoder sees (the pos-conv spans ±1.28 s)
    right_context: float = 0.32    # chunked: s of look-ahead; delays partials, not finals
    max_lag: float = 1.0           # s; partials are skipped while the audio being processed is older than
                                   # this (the decoder is behind real time); inf = never skip

    def validate(self) -> None:
        if self.mode not in ("redecode", "chunked"):
            raise ValueError(f"stream.mode must be redecode or chunked, got {self.mode!r}")
        if min(self.partial_interval, self.chunk, self.max_lag) <= 0 or min(self.left_context, self.right_context) < 0:
            raise ValueError("stream: partial_interval, chunk and max_lag must be > 0, contexts >= 0")


class ChunkedDecoder:
    """Logits for one growing segment, computed chunk by chunk with left/right context.

    Frames are counted as (n - receptive_field) // hop + 1 for n samples. A chunk of frames [f0, f1) is encoded
    from the audio of frames [f0 - left, f1 + right) (samples [(f0 - left) hop, (f1 + right - 1) hop +
    receptive_field)) and only rows [f0, f1) are kept. For the wav2vec 2.0 conv stack frame f sees samples
    [f hop, f hop + receptive_field); a centred front-end's frame (Whisper's: f hop +- 520 samples, receptive_field
    160) also sees audio past that end, so >= 2 frames of context per side keep kept rows exact, and the last
    chunk takes the segment to its end.
    """

    def __init__(self, rec: Recognizer, cfg: StreamConfig):
        self.rec = rec
        frames = lambda s: max(round(s * rec.sample_rate / rec.hop), 0)  # noqa: E731
        self.chunk, self.left, self.right = max(frames(cfg.chunk), 1), frames(cfg.left_context), frames(cfg.right_context)
        self.rows: list[np.ndarray] = []  # (t, V) per chunk
        self.done = 0                     # frames computed

    def _num_frames(self, n: int) -> int:
        return 0 if n < self.rec.receptive_field else (n - self.rec.receptive_field) // self.rec.hop + 1

    def _encode(self, wave: np.ndarray, f0: int, f1: int, f_hi: int, to_end: bool = False) -> None:
        lo = max(f0 - self.left, 0)
        end = len(wave) if to_end else (f_hi - 1) * self.rec.hop + self.rec.receptive_field
        x = wave[lo * self.rec.hop:end]  # frames [lo, f_hi); to_end: samples past the last frame's start too
        rows = recognizer_logits(self.rec, x)[f0 - lo:f1 - lo]  # (<= f1 - f0, V)
        self.rows.append(rows)
        self.done = f0 + len(rows)

    def advance(self, wave: np.ndarray) -> None:
        """Encode every chunk whose right context has fully arrived. wave: the segment so far."""
        available = self._num_frames(len(wave))
        while self.done + self.chunk + self.right <= available:
            before = self.done
            self._encode(wave, self.done, self.done + self.chunk, self.done + self.chunk + self.right)
            if self.done == before:
                break

    def finish(self, wave: np.ndarray) -> np.ndarray:
        """wave: the whole segment -> its logits (T, V); the tail is encoded with what right context exists."""
        self.advance(wave)
        total = self._num_frames(len(wave))
        if self.done < total:
            self._encode(wave, self.done, total, total, to_end=True)
        logits = np.concatenate(self.rows) if self.rows else np.zeros((0, 1), np.float32)
        return logits[:max(total, 1)]

    def partial(self) -> np.ndarray:
        return np.concatenate(self.rows) if self.rows else np.zeros((0, 1), np.float32)


# ---- session ----

@dataclass
class Latency:
    hangover: float       # s of audio after the VAD's end of speech needed to decide the endpoint (rule + window)
    queue: float          # s from the decision point's capture to processing (rest of its chunk + waiting)
    decode: float         # s to compute the final text
    display: float = 0.0  # s to show it (filled in by the app)
    decode_cpu: float = 0.0  # CPU s of this thread in decode: what decode costs without contention (1 thread)

    @property
    def total(self) -> float:
        return self.hangover + self.queue + self.decode + self.display


@dataclass
class Partial:
    text: str
    start: int  # first sample of the utterance in the stream


@dataclass
class Final:
    text: str
    segment: Segment
    latency: Latency


class _Buffer:
    """The stream's recent audio: ``data[i]`` is stream sample ``offset + i``."""

    def __init__(self):
        self.data = np.zeros(1 << 16, dtype=np.float32)
        self.size = 0
        self.offset = 0

    def append(self, x: np.ndarray) -> None:
        if self.size + len(x) > len(self.data):
            grown = np.zeros(max(2 * len(self.data), self.size + len(x)), dtype=np.float32)
            grown[:self.size] = self.data[:self.size]
            self.data = grown
        self.data[self.size:self.size + len(x)] = x
        self.size += len(x)

    def get(self, a: int, b: int) -> np.ndarray:
        if a < self.offset or b > self.offset + self.size:
            raise IndexError(f"samples [{a}, {b}) outside the kept audio [{self.offset}, {self.offset + self.size})")
        return self.data[a - self.offset:b - self.offset].copy()

    def drop_before(self, pos: int) -> None:
        k = min(max(pos - self.offset, 0), self.size)
        if k:
            self.data[:self.size - k] = self.data[k:self.size]
            self.size -= k
            self.offset += k


@dataclass
class LatencyStats:
    items: list[Latency] = field(default_factory=list)

    def summary(self) -> dict[str, dict[str, float]]:
        """{component: {"p50": s, "p90": s}} over all finals; empty when there were none."""
        if not self.items:
            return {}
        out = {}
        for name in ("total", "hangover", "queue", "decode", "display", "decode_cpu"):
            v = np.array([getattr(x, name) for x in self.items])
            out[name] = {"p50": float(np.percentile(v, 50)), "p90": float(np.percentile(v, 90))}
        return out

    def format(self) -> str:
        s = self.summary()
        if not s:
            return "latency: no utterances"
        parts = [f"{k} p50 {v['p50'] * 1000:.0f} ms / p90 {v['p90'] * 1000:.0f} ms" for k, v in s.items()]
        return f"latency over {len(self.items)} utterances (end of speech -> final text): " + "; ".join(parts)


class StreamingSession:
    """Feed ``accept(chunk, arrived)``; it returns ``Partial`` / ``Final`` events. Call ``finish()`` at the end."""

    def __init__(self, rec: Recognizer, segmenter: Segmenter, cfg: StreamConfig | None = None):
        self.cfg = cfg or StreamConfig()
        self.cfg.validate()
        if rec.sample_rate != segmenter.sample_rate:
            raise EdgeSSLError(f"model expects {rec.sample_rate} Hz audio, the segmenter {segmenter.sample_rate} Hz")
        self.rec = rec
        self.seg = segmenter
        self.sr = rec.sample_rate
        self.buf = _Buffer()
        self.pad = self.seg.endpointer.pad
        self.interval = round(self.cfg.partial_interval * self.sr)
        self.next_partial = 0
        self.chunked: ChunkedDecoder | None = None
        self.chunked_start: int | None = None
        self.stats = LatencyStats()
        self.partials_skipped = 0  # partial decodes skipped because processing was behind real time
        self.early_key: tuple[int, int] | None = None  # (start, end) of the segment decoded in trailing silence
        self.early_text = ""
        self.early_hits = 0        # finals that were ready when their endpoint came

    @property
    def total(self) -> int:
        return self.seg.total

    def accept(self, samples: np.ndarray, arrived: float | None = None) -> list[Partial | Final]:
        """samples (N,) float32 at the model rate; ``arrived``: time.monotonic() when the last one was captured."""
        began = time.monotonic()
        arrived = began if arrived is None else arrived
        samples = np.asarray(samples, dtype=np.float32)
        self.buf.append(samples)
        events: list[Partial | Final] = []
        for seg in self.seg.accept(samples):
            if seg.final:
                events.append(self._final(seg, began - arrived))
            self._reset_decoder()
        start = self.seg.open_start
        if start is not None:
            if self.cfg.mode == "chunked":
                self._chunked_for(start).advance(self.buf.get(start, self.total))
            if not self.seg.speaking:
                events += self._speculate(start)
            elif self.total >= self.next_partial:
                self.next_partial = self.total + self.interval
                if time.monotonic() - arrived > self.cfg.max_lag:
                    self.partials_skipped += 1  # behind: partials are best-effort, finals are not
                else:
                    events.append(Partial(self._partial_text(start), start))
        self._trim()
        return events

    def finish(self) -> list[Final]:
        """End of stream: finalise the utterance in progress."""
        out = [self._final(seg, 0.0) for seg in self.seg.flush() if seg.final]
        self._reset_decoder()
        return out

    def _speculate(self, start: int) -> list[Partial]:
        """In trailing silence the final segment is already known unless speech resumes: decode it now, so
        that at the endpoint the final text is only looked up (redecode mode; the decode moves off the
        critical path into the hangover). Shown as a partial; no other partials run during silence."""
        end = self.seg.endpointer.last_speech + self.pad  # where the endpointer will end this segment
        if self.cfg.mode != "redecode" or end > self.total or self.early_key == (start, end):
            return []
        self.early_key, self.early_text = (start, end), transcribe_wave(self.rec, self.buf.get(start, end))
        return [Partial(self.early_text, start)]

    def _chunked_for(self, start: int) -> ChunkedDecoder:
        if self.chunked is None or self.chunked_start != start:
            self.chunked, self.chunked_start = ChunkedDecoder(self.rec, self.cfg), start
        return self.chunked

    def _reset_decoder(self) -> None:
        self.chunked, self.chunked_start = None, None

    def _partial_text(self, start: int) -> str:
        if self.cfg.mode == "chunked":
            return self.rec.text(self._chunked_for(start).partial())
        wave = self.buf.get(start, self.total)
        return transcribe_wave(self.rec, wave) if len(wave) >= self.rec.min_samples else ""

    def _final(self, seg: Segment, queued: float) -> Final:
        t0, c0 = time.monotonic(), time.thread_time()
        wave = self.buf.get(seg.start, seg.end)
        if self.cfg.mode == "chunked":
            text = self.rec.text(self._chunked_for(seg.start).finish(wave))
        elif self.early_key == (seg.start, seg.end):
            text, self.early_hits = self.early_text, self.early_hits + 1
        else:
            text = transcribe_wave(self.rec, wave)
        # detected_at <= total: the endpoint's window may lie inside the chunk, so the rest of the chunk
        # (captured after the decision point, before processing) is waiting time, not hangover
        lat = Latency(hangover=(seg.detected_at - seg.speech_end) / self.sr,
                      queue=(self.total - seg.detected_at) / self.sr + max(queued, 0.0), decode=time.monotonic() - t0,
                      decode_cpu=time.thread_time() - c0)
        self.stats.items.append(lat)
        return Final(text, seg, lat)

    def _trim(self) -> None:
        """Keep only what a future segment can reach: from the open utterance, or a pad before the next window."""
        start = self.seg.open_start
        keep = start if start is not None else self.seg.vad.windows * WINDOW - self.pad
        self.buf.drop_before(keep)


def open_session(model: str | Path, vad: VadConfig | None = None, endpoint: EndpointConfig | None = None,
                 stream: StreamConfig | None = None, threads: int | None = None) -> StreamingSession:
    """Model artifact + configs -> a ready session (recognizer, VAD, endpointer)."""
    vad = vad or VadConfig()
    rec = open_recognizer(model, threads)
    return StreamingSession(rec, Segmenter(open_detector(vad.kind), vad, endpoint or EndpointConfig(), rec.sample_rate),
                            stream)


def run_stream(source, session: StreamingSession, on_event=None) -> LatencyStats:
    """Drive ``session`` from an iterable of ``Chunk``s until it ends; ``on_event(event)`` shows each result.

    The time ``on_event`` takes for a ``Final`` is its display latency. Ctrl-C ends the stream early: the
    utterance in progress is still finalised before ``KeyboardInterrupt`` propagates.
    """
    def emit(events):
        for ev in events:
            t0 = time.monotonic()
            if on_event is not None:
                on_event(ev)
            if isinstance(ev, Final):
                ev.latency.display = time.monotonic() - t0

    try:
        for chunk in source:
            emit(session.accept(chunk.samples, chunk.arrived))
    finally:
        emit(session.finish())
    return session.stats
