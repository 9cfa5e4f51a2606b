"""Offline, file-level transcription: audio file -> 16 kHz mono -> CTC logits -> greedy text.

Works against any *runner* with ``sample_rate``, ``tokens`` (CTC vocabulary, blank first), ``blank_id``
and ``run(wave (S,) float32) -> logits (T, V)``: the ``edge_ssl.runtime`` Runners (eager ``.safetensors``,
``.onnx``, ``.pte``, chosen by suffix) are such runners.
"""
from __future__ import annotations

import logging
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, Sequence, runtime_checkable

import numpy as np

from edge_ssl.asr.decode.greedy import greedy_ids
from edge_ssl.asr.decode.tokenizer import CharTokenizer
from edge_ssl.errors import EdgeSSLError

if TYPE_CHECKING:
    from edge_ssl.asr.stream.vad import Detector

log = logging.getLogger(__name__)


class CTCRunner(Protocol):
    sample_rate: int
    tokens: Sequence[str]
    blank_id: int

    def run(self, wave: np.ndarray) -> np.ndarray: ...


@runtime_checkable
class TextRecognizer(Protocol):
    """An engine that returns text itself, not CTC logits: the peers (``edge_ssl.asr.evaluate.peers``)."""

    sample_rate: int
    decoder: str  # how it decodes; recorded in the evaluation summary

    def transcribe(self, wave: np.ndarray) -> str: ...


def open_model(path: str | Path, threads: int | None = None) -> CTCRunner:
    """The runtime Runner for a CTC model file or artifact; an encoder without a CTC head is an error."""
    from edge_ssl.runtime import open_runner

    runner = open_runner(path, threads=threads)
    if not runner.tokens:
        raise EdgeSSLError(f"{path}: outputs features, not CTC logits (no vocabulary); fine-tune it first "
                           "(edge-ssl finetune -c ctc/tiny model.init_from=...)")
    return runner


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

def transcribe_segments(runner: CTCRunner, wave: np.ndarray, vad: "str | Detector" = "auto") -> list[dict]:
    """wave (S,) at ``runner.sample_rate`` -> [{"start": s, "end": s, "text": str}] per VAD segment.
    ``vad``: a detector name, or a detector opened once for many files (reset here)."""
    from edge_ssl.asr.stream.segment import segment_wave
    from edge_ssl.asr.stream.session import RunnerRecognizer, transcribe_wave as transcribe_segment
    from edge_ssl.asr.stream.vad import open_detector

    detector = open_detector(vad) if isinstance(vad, str) else vad
    detector.reset()
    rec, sr = RunnerRecognizer(runner), runner.sample_rate  # pads short / splits over-long segments
    return [{"start": round(s.start / sr, 3), "end": round(s.end / sr, 3),
             "text": transcribe_segment(rec, wave[s.start:s.end])}
            for s in segment_wave(wave, detector, sample_rate=sr)]


def expand_audio_paths(paths: Sequence[str | Path]) -> list[Path]:
    """Files as given; directories -> their audio files (recursively, sorted). Missing paths are kept to be
    reported. A folder with no audio file is logged; nothing at all to transcribe is an error."""
    from edge_ssl.audio.io import AUDIO_SUFFIXES

    out: list[Path] = []
    empty: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            found = sorted(f for f in p.rglob("*") if f.suffix.lower() in AUDIO_SUFFIXES and f.is_file())
            if not found:
                empty.append(p)
            out += found
        else:
            out.append(p)
    what = f"no audio files ({', '.join(AUDIO_SUFFIXES)}) under it"
    if not out:
        raise EdgeSSLError("; ".join(f"{p}: {what}" for p in empty) or "no audio files given")
    for p in empty:
        log.warning("%s: %s", p, what)
    return out


def output_paths(files: Sequence[Path], out_dir: str | Path, ext: str) -> list[Path]:
    """One output file per input under ``out_dir``, mirroring the inputs' paths below their common folder
    (``a/x.wav``, ``b/x.wav`` -> ``a/x.<ext>``, ``b/x.<ext>``); inputs that differ only in their audio suffix
    keep it (``g.wav``, ``g.flac`` -> ``g.wav.<ext>``, ``g.flac.<ext>``), so no output overwrites another."""
    import os

    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise EdgeSSLError(f"{out_dir}: exists and is not a folder (--out-dir takes a folder for the transcripts)")
    resolved = [Path(f).resolve() for f in files]
    root = Path(os.path.commonpath([f.parent for f in resolved]))
    rels = [f.relative_to(root) for f in resolved]
    stems = Counter(r.with_suffix("") for r in rels)
    return [out_dir / (r.with_suffix(f".{ext}") if stems[r.with_suffix("")] == 1 else r.with_name(f"{r.name}.{ext}"))
            for r in rels]


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
