"""The Runner interface: one artifact (or model file) in its real runtime, one utterance at a time.

Every backend checks the input against the artifact's range *before* running it: an exported graph
handed a too-short input can run and return one meaningless frame (shared/STACK.md), so the Runner
refuses it with an ``EdgeSSLError`` that says the accepted range. Image-encoder artifacts take exactly
one normalised image of the exported shape and refuse any other shape the same way.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path

import numpy as np

from edge_ssl.errors import EdgeSSLError
from edge_ssl.runtime.meta import ArtifactMeta


class Runner(ABC):
    """``run(wave (S,) float32) -> (T, V) float32`` logits (CTC) or features (speech encoder);
    ``run(image (C, S, S) or (1, C, S, S), normalised) -> (D,) float32`` for an image encoder."""

    backend: str = ""  # "eager", "onnx", "executorch"

    def __init__(self, path: str | Path, meta: ArtifactMeta):
        self.path, self.meta = Path(path), meta

    # ---- metadata, as attributes the ASR/listen/embed code reads ----
    @property
    def sample_rate(self) -> int:
        return self.meta.sample_rate

    @property
    def tokens(self) -> list[str]:
        return list(self.meta.tokens)

    @property
    def blank_id(self) -> int:
        return self.meta.blank_id

    @property
    def vocab_size(self) -> int:
        return self.meta.vocab_size

    @property
    def frame_stride(self) -> int:
        return self.meta.frame_stride

    @property
    def min_samples(self) -> int:
        return self.meta.min_samples

    @property
    def max_samples(self) -> int:
        return self.meta.max_samples

    def check_wave(self, wave: np.ndarray) -> np.ndarray:
        """Validate and convert to a contiguous float32 (1, S) batch of the raw wave: a model that normalises its
        input (``meta.normalize == "utterance"``) does so itself, inside the graph."""
        wave = np.asarray(wave)
        if wave.ndim != 1:
            raise EdgeSSLError(f"{self.path.name}: expected a mono waveform of shape (S,), got {wave.shape}")
        n, m = len(wave), self.meta
        if not m.min_samples <= n <= m.max_samples:
            accepts = "the range the model accepts" if self.backend == "eager" else "the exported range"
            raise EdgeSSLError(
                f"{self.path.name}: input of {n} samples ({n / m.sample_rate:.3f} s) is outside {accepts} "
                f"{m.min_samples}..{m.max_samples} samples ({m.min_samples / m.sample_rate:.3f}.."
                f"{m.max_samples / m.sample_rate:.1f} s at {m.sample_rate} Hz); "
                + ("pad it" if n < m.min_samples else "split it into shorter segments"))
        x = wave.astype(np.float32, copy=False)
        if not np.isfinite(x).all():
            raise EdgeSSLError(f"{self.path.name}: input contains NaN or infinite samples")
        return np.ascontiguousarray(x[None, :], dtype=np.float32)  # (1, S)

    def check_image(self, image: np.ndarray) -> np.ndarray:
        """Validate and convert to a contiguous float32 (1, C, S, S) batch (already normalised: mean/std)."""
        x = np.asarray(image)
        shape = self.meta.image_shape
        if x.shape not in (shape, (1, *shape)):
            raise EdgeSSLError(f"{self.path.name}: expected one normalised image of shape {shape} or {(1, *shape)}, "
                               f"got {x.shape}; resize/crop it to {shape[1]}x{shape[2]} with {shape[0]} channel(s)")
        x = x.astype(np.float32, copy=False)
        if not np.isfinite(x).all():
            raise EdgeSSLError(f"{self.path.name}: input image contains NaN or infinite values")
        return np.ascontiguousarray(x.reshape(1, *shape), dtype=np.float32)  # (1, C, S, S)

    def run(self, wave: np.ndarray) -> np.ndarray:
        """wave (S,) float at ``sample_rate`` -> (T, V) float32; for an image encoder, image -> (D,)."""
        if self.meta.is_image:
            out = np.asarray(self._run(self.check_image(wave)), dtype=np.float32)
            if out.shape != (1, self.meta.output_dim):
                raise EdgeSSLError(f"{self.path.name}: {self.backend} returned shape {out.shape}, "
                                   f"expected (1, {self.meta.output_dim})")
            return out[0]
        x = self.check_wave(wave)
        out = np.asarray(self._run(x), dtype=np.float32)
        expected = (x.shape[1], self.meta.num_frames(x.shape[1]), self.meta.output_dim)
        if out.shape != (1, expected[1], expected[2]):
            raise EdgeSSLError(f"{self.path.name}: {self.backend} returned shape {out.shape} for {expected[0]} "
                               f"samples, expected (1, {expected[1]}, {expected[2]})")
        return out[0]

    @abstractmethod
    def _run(self, x: np.ndarray) -> np.ndarray:
        """(1, S) float32 -> (1, T, V); image encoder: (1, C, S, S) -> (1, D)."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.path.name}, {self.meta.precision}, {self.meta.output} x{self.meta.output_dim})"
