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
