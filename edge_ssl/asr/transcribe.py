"""Offline, file-level transcription: audio file -> 16 kHz mono -> CTC logits -> greedy text.

Works against any *runner* with ``sample_rate``, ``tokens`` (CTC vocabulary, blank first), ``blank_id``
and ``run(wave (S,) float32) -> logits (T, V)``: the ``edge_ssl.runtime`` Runners (eager ``.safetensors``,
``.onnx``, ``.pte``, chosen by suffix) are such runners.
"""
from __future__ import annotations

from pathlib import Path
from typing import Protocol, Sequence

import numpy as np

from edge_ssl.asr.ctc_decode import greedy_ids
from edge_ssl.asr.tokenizer import CharTokenizer
from edge_ssl.errors import EdgeSSLError


class CTCRunner(Protocol):
    sample_rate: int
    tokens: Sequence[str]
    blank_id: int

    def run(self, wave: np.ndarray) -> np.ndarray: ...


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
