"""Voice activity detection: Silero VAD (ONNX, run by onnxruntime) with an energy-based fallback.

Both detectors score fixed 32 ms windows (512 samples at 16 kHz) with a speech probability.
``VadStream`` cuts any stream of chunks into those windows (so results do not depend on how the audio
was chunked) and turns probabilities into speech / non-speech with Silero's hysteresis: speech starts at
``prob >= threshold`` and lasts until ``prob < threshold - 0.15``.

The Silero model comes from the PyPI ``silero-vad`` wheel, installed with ``--no-deps`` (its declared
deps pull a CUDA torch; only the ``.onnx`` file inside is used). Its package is located without being
imported, so the torch-based ``silero_vad/__init__.py`` never runs.
"""
from __future__ import annotations

import importlib.util
import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol

import numpy as np

from edge_ssl.errors import EdgeSSLError

log = logging.getLogger(__name__)

VAD_SAMPLE_RATE = 16000
WINDOW = 512   # samples per decision at 16 kHz (32 ms); Silero's ONNX model accepts exactly this
CONTEXT = 64   # samples of the previous window Silero prepends (its v5+ ONNX input is [1, 64 + 512])
SILERO_HINT = "pip install --no-deps silero-vad==6.2.3  (or run `make install`)"


@dataclass
class VadConfig:
    kind: Literal["auto", "silero", "energy"] = "auto"  # auto: Silero when installed, else energy
    threshold: float = 0.5        # speech starts at prob >= threshold (Silero's default)
    neg_threshold: float | None = None  # speech ends below this; None -> threshold - 0.15 (Silero's rule)

    def validate(self) -> None:
        if not 0.0 < self.threshold < 1.0:
            raise ValueError(f"vad.threshold must be in (0, 1), got {self.threshold}")
        if self.neg_threshold is not None and not 0.0 <= self.neg_threshold <= self.threshold:
            raise ValueError(f"vad.neg_threshold must be in [0, threshold], got {self.neg_threshold}")


class Detector(Protocol):
    name: str

    def prob(self, window: np.ndarray) -> float:
        """window (512,) float32 at 16 kHz -> speech probability in [0, 1]."""

    def reset(self) -> None: ...


def silero_model_path() -> Path:
    """The ``silero_vad.onnx`` inside the installed ``silero-vad`` wheel (found, not imported)."""
    spec = importlib.util.find_spec("silero_vad")
    if spec is None or not spec.submodule_search_locations:
        raise EdgeSSLError(f"Silero VAD is not installed; {SILERO_HINT}")
    path = Path(list(spec.submodule_search_locations)[0]) / "data" / "silero_vad.onnx"
    if not path.is_file():
        raise EdgeSSLError(f"{path}: missing from the silero-vad package; reinstall it: {SILERO_HINT}")
    return path


class SileroVad:
    """Stateful Silero VAD: LSTM state and the 64-sample context carry over from window to window."""

    name = "silero"

    def __init__(self, path: str | Path | None = None):
        import onnxruntime as ort

        path = Path(path) if path else silero_model_path()
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 1  # a 32 ms window is tiny; threads only add wake-up latency
        opts.inter_op_num_threads = 1
        try:
            self.session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        except Exception as e:  # onnxruntime raises its own exception types for unreadable models
            raise EdgeSSLError(f"{path}: cannot load the Silero VAD model ({e})") from None
        self.sr = np.array(VAD_SAMPLE_RATE, dtype=np.int64)
        self.reset()

    def reset(self) -> None:
        self.state = np.zeros((2, 1, 128), dtype=np.float32)
        self.context = np.zeros(CONTEXT, dtype=np.float32)

    def prob(self, window: np.ndarray) -> float:
        x = np.concatenate([self.context, window]).astype(np.float32, copy=False)[None]  # (1, 576)
        out, self.state = self.session.run(None, {"input": x, "state": self.state, "sr": self.sr})
        self.context = x[0, -CONTEXT:]
        return float(out[0, 0])


class EnergyVad:
    """Fallback: window energy against a tracked noise floor, squashed to a pseudo-probability.

    The floor follows the quietest recent windows (fast down, slow up), so steady background noise is
    learned; a window ``margin_db`` above it scores 0.5. Absolute silence below ``floor_db`` is never speech.
    """

    name = "energy"

    def __init__(self, margin_db: float = 12.0, floor_db: float = -60.0, rise_db_per_s: float = 3.0):
        self.margin_db = margin_db
        self.floor_db = floor_db
        self.rise = rise_db_per_s * WINDOW / VAD_SAMPLE_RATE  # dB per window
        self.reset()

    def reset(self) -> None:
        self.noise_db = self.floor_db

    def prob(self, window: np.ndarray) -> float:
        db = 10.0 * math.log10(float(np.mean(np.square(window, dtype=np.float64))) + 1e-12)
        self.noise_db = max(self.floor_db, db if db < self.noise_db else self.noise_db + self.rise)
        return 1.0 / (1.0 + math.exp(-(db - self.noise_db - self.margin_db) / 2.0))


def open_detector(kind: str = "auto") -> Detector:
    if kind not in ("auto", "silero", "energy"):
        raise EdgeSSLError(f"unknown VAD {kind!r}; choose auto, silero or energy")
    if kind == "energy":
        return EnergyVad()
    try:
        return SileroVad()
    except EdgeSSLError as e:
        if kind == "silero":
            raise
        log.warning("%s; using the energy-based VAD instead", e)
        return EnergyVad()


class VadStream:
    """Chunks of 16 kHz audio in -> one speech/non-speech decision per completed 512-sample window."""

    def __init__(self, detector: Detector, cfg: VadConfig | None = None):
        cfg = cfg or VadConfig()
        self.detector = detector
        self.on = cfg.threshold
        self.off = cfg.neg_threshold if cfg.neg_threshold is not None else max(cfg.threshold - 0.15, 0.01)
        self.pending = np.zeros(0, dtype=np.float32)
        self.speaking = False
        self.windows = 0  # windows decided so far; window i covers samples [512 i, 512 (i + 1))
        self.last_probs: list[float] = []  # speech probability of each window decided by the last accept()

    def reset(self) -> None:
        self.detector.reset()
        self.pending = np.zeros(0, dtype=np.float32)
        self.speaking = False
        self.windows = 0
        self.last_probs = []

    def accept(self, samples: np.ndarray) -> list[bool]:
        """samples (N,) float32 -> a decision for each window completed by them (possibly none)."""
        buf = np.concatenate([self.pending, np.asarray(samples, dtype=np.float32)])
        n = len(buf) // WINDOW
        out, self.last_probs = [], []
        for i in range(n):
            p = self.detector.prob(buf[i * WINDOW:(i + 1) * WINDOW])
            self.speaking = p >= self.on if not self.speaking else p >= self.off
            out.append(self.speaking)
            self.last_probs.append(p)
        self.pending = buf[n * WINDOW:].copy()
        self.windows += n
        return out
