"""The eager backend: an edge-ssl ``.safetensors`` model file run in PyTorch (the reference for verify).

``quant`` applies a torchao scheme at load time (nothing pickled is ever written): "int8-weight"
(weight-only int8) or "int8-dynamic" (dynamic int8 activations + int8 weights). On a CPU without VNNI the
latter is slower than fp32 (shared/STACK.md); it is here to measure that, not to recommend it.
"""
from __future__ import annotations

import hashlib
import logging
from pathlib import Path

import numpy as np
import torch

from edge_ssl.errors import EdgeSSLError
from edge_ssl.runtime.base import Runner
from edge_ssl.runtime.meta import ArtifactMeta

log = logging.getLogger(__name__)

DEFAULT_MAX_SAMPLES = 16000 * 30  # eager has no planned memory; cap at the default export range
EAGER_QUANT = ("none", "int8-weight", "int8-dynamic")


def model_version(path: str | Path) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        v = version("edge-ssl")
    except PackageNotFoundError:
        v = "0"
    digest = hashlib.sha256(Path(path).read_bytes()).hexdigest()[:12]
    return f"{v}+{digest}"


def model_artifact_meta(model: torch.nn.Module, file_meta: dict, path: str | Path, *, min_samples: int,
                        max_samples: int, precision: str = "fp32") -> ArtifactMeta:
    """ArtifactMeta of an edge-ssl speech model (``ctc`` or ``speech_encoder``) loaded from ``path``."""
    kind = file_meta.get("kind")
    enc = model.encoder if kind == "ctc" else model
    if kind == "ctc":
        output, dim, tokens = "logits", model.vocab_size, tuple(file_meta["vocab"])
    elif kind == "speech_encoder":
        output, dim, tokens = "features", enc.embed_dim, ()
    else:
        raise EdgeSSLError(f"{path}: cannot run or export a {kind!r} model as speech (expected ctc or speech_encoder)")
    return ArtifactMeta(
        model_name=Path(path).stem, model_version=model_version(path), output=output, output_dim=dim,
        min_samples=min_samples, max_samples=max_samples, frame_stride=enc.downsample_rate,
        receptive_field=enc.receptive_field, normalize=file_meta.get("normalize", "none"), tokens=tokens,
        blank_id=0, precision=precision)


def load_speech_model(path: str | Path) -> tuple[torch.nn.Module, dict]:
    """A ``ctc`` or ``speech_encoder`` model file -> (eval model with weight norm folded, file metadata)."""
    from edge_ssl.models.store import load_model

    model, meta = load_model(path)
    enc = model.encoder if meta["kind"] == "ctc" else model
    enc.fold_for_inference()
    return model.eval(), meta


def apply_torchao(model: torch.nn.Module, quant: str) -> torch.nn.Module:
    """Quantize ``model``'s Linear layers in place with torchao (eager/CPU use)."""
    if quant == "none":
        return model
    from torchao.quantization import Int8DynamicActivationInt8WeightConfig, Int8WeightOnlyConfig, quantize_

    configs = {"int8-weight": Int8WeightOnlyConfig, "int8-dynamic": Int8DynamicActivationInt8WeightConfig}
    if quant not in configs:
        raise EdgeSSLError(f"unknown eager quantization {quant!r}; choose from {', '.join(EAGER_QUANT)}")
    quantize_(model, configs[quant]())
    return model


class EagerRunner(Runner):
    backend = "eager"

    def __init__(self, path: str | Path, quant: str = "none", threads: int | None = None):
        model, file_meta = load_speech_model(path)
        rf = (model.encoder if file_meta["kind"] == "ctc" else model).receptive_field
        meta = model_artifact_meta(model, file_meta, path, min_samples=rf, max_samples=DEFAULT_MAX_SAMPLES,
                                   precision="fp32" if quant == "none" else quant)
        super().__init__(path, meta)
        if threads:
            torch.set_num_threads(threads)
        self.model = apply_torchao(model, quant)
        self.kind = file_meta["kind"]

    @torch.inference_mode()
    def _run(self, wave: np.ndarray) -> np.ndarray:
        x = torch.from_numpy(wave)  # (1, S)
        out = self.model(x)
        out = out[0] if self.kind == "ctc" else out  # (1, T, V) logits or (1, T, C) features
        return out.float().numpy()
