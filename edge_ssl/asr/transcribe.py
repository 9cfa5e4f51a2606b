"""Offline, file-level transcription: audio file -> 16 kHz mono -> CTC logits -> greedy text.

Works against any *runner*: an object with ``sample_rate``, ``tokens`` (CTC vocabulary, blank first),
``blank_id`` and ``run(wave (S,) float32) -> logits (T, V)``. ``open_model`` gives the export helper's
``edge_ssl.runtime.open_runner`` (eager / ONNX / ExecuTorch, by suffix) when it is installed, and the eager
``.safetensors`` runner below otherwise.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Protocol, Sequence

import numpy as np
import torch

from edge_ssl.asr.ctc_decode import greedy_ids
from edge_ssl.asr.tokenizer import CharTokenizer
from edge_ssl.errors import EdgeSSLError

log = logging.getLogger(__name__)


class CTCRunner(Protocol):
    sample_rate: int
    tokens: Sequence[str]
    blank_id: int

    def run(self, wave: np.ndarray) -> np.ndarray: ...


class EagerCTCRunner:
    """A ``ctc`` model file run in PyTorch eager mode, one utterance at a time."""

    sample_rate = 16000
    blank_id = 0

    def __init__(self, model: torch.nn.Module, tokens: Sequence[str]):
        self.model = model.eval()
        self.tokens = list(tokens)
        self.min_samples = model.encoder.receptive_field

    @classmethod
    def load(cls, path: str | Path) -> "EagerCTCRunner":
        from edge_ssl.models.store import load_model

        model, meta = load_model(path)
        if meta["kind"] != "ctc":
            raise EdgeSSLError(f"{path}: a {meta['kind']!r} model has no CTC head; fine-tune it first "
                               "(edge-ssl finetune -c ctc/tiny model.init_from=...)")
        return cls(model, meta["vocab"])

    @torch.inference_mode()
    def run(self, wave: np.ndarray) -> np.ndarray:
        """wave (S,) float32 at 16 kHz -> logits (T, V)."""
        if len(wave) < self.min_samples:
            raise EdgeSSLError(f"audio too short: {len(wave)} samples, the model needs at least {self.min_samples}")
        device = next(self.model.parameters()).device
        x = torch.from_numpy(np.ascontiguousarray(wave, dtype=np.float32))[None].to(device)  # (1, S)
        logits, _ = self.model(x)                                                          # (1, T, V)
        return logits[0].float().cpu().numpy()


def open_model(path: str | Path) -> CTCRunner:
    """A runner for a model file: the runtime package's ``open_runner`` if present, else eager safetensors."""
    try:
        from edge_ssl.runtime import open_runner  # the Runner interface (eager / .onnx / .pte)
    except ImportError:
        if Path(path).suffix != ".safetensors":
            raise EdgeSSLError(f"{path}: only .safetensors model files can be run here (no edge_ssl.runtime)") \
                from None
        return EagerCTCRunner.load(path)
    return open_runner(path)


def decode(runner: CTCRunner, logits: np.ndarray) -> str:
    """Greedy CTC: logits (T, V) -> text."""
    return CharTokenizer(tuple(runner.tokens)).decode(greedy_ids(logits, runner.blank_id))


def transcribe_wave(runner: CTCRunner, wave: np.ndarray) -> str:
    return decode(runner, runner.run(wave))


def transcribe_file(runner: CTCRunner, path: str | Path) -> str:
    """Any file ``load_audio`` reads (any rate, any channel count) -> text. AudioError names a bad file."""
    from edge_ssl.audio.io import load_audio

    return transcribe_wave(runner, load_audio(path, sample_rate=runner.sample_rate))


# ---- long files: VAD segments with timestamps (the segmenter ``listen`` uses), JSONL / SRT output ----

def transcribe_segments(runner: CTCRunner, wave: np.ndarray, vad: str = "auto") -> list[dict]:
    """wave (S,) at ``runner.sample_rate`` -> [{"start": s, "end": s, "text": str}] per VAD segment."""
    from edge_ssl.asr.segment import segment_wave
    from edge_ssl.asr.stream import RunnerRecognizer, transcribe_wave as transcribe_segment
    from edge_ssl.asr.vad import open_detector

    rec, sr = RunnerRecognizer(runner), runner.sample_rate  # pads short / splits over-long segments
    return [{"start": round(s.start / sr, 3), "end": round(s.end / sr, 3),
             "text": transcribe_segment(rec, wave[s.start:s.end])}
            for s in segment_wave(wave, open_detector(vad), sample_rate=sr)]


def expand_audio_paths(paths: Sequence[str | Path]) -> list[Path]:
    """Files as given; directories -> their audio files (recursively, sorted). Missing paths are kept to be reported."""
    from edge_ssl.audio.io import AUDIO_SUFFIXES

    out: list[Path] = []
    for p in map(Path, paths):
        out += sorted(f for f in p.rglob("*") if f.suffix.lower() in AUDIO_SUFFIXES and f.is_file()) \
            if p.is_dir() else [p]
    return out


def _srt_time(t: float) -> str:
    ms = round(t * 1000)
    return f"{ms // 3600000:02d}:{ms // 60000 % 60:02d}:{ms // 1000 % 60:02d},{ms % 1000:03d}"


def format_segments(path: Path, segments: list[dict], fmt: str) -> str:
    """One file's segments as ``text`` (``file<TAB>text``), ``timestamps``, ``jsonl`` or ``srt``."""
    import json

    if fmt == "text":
        return f"{path}\t{' '.join(s['text'] for s in segments if s['text'])}\n"
    if fmt == "timestamps":
        return "".join(f"{path}\t{s['start']:.2f}\t{s['end']:.2f}\t{s['text']}\n" for s in segments)
    if fmt == "jsonl":
        return "".join(json.dumps({"file": str(path), **s}) + "\n" for s in segments)
    if fmt == "srt":
        return "".join(f"{i}\n{_srt_time(s['start'])} --> {_srt_time(s['end'])}\n{s['text']}\n\n"
                       for i, s in enumerate(segments, 1))
    raise EdgeSSLError(f"unknown output format {fmt!r}; choose text, timestamps, jsonl or srt")
