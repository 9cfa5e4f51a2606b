"""The eager backend: an edge-ssl ``.safetensors`` model file run in PyTorch (the reference for verify).

Speech files (``ctc``, ``speech_encoder``) map a wave to logits/features; vision files (``vit``, ``mae``:
its encoder) map a normalised image to its feature, as the exported image-encoder graph does.

``quant`` applies a torchao scheme at load time (nothing pickled is ever written): "int8-weight"
(weight-only int8) or "int8-dynamic" (dynamic int8 activations + int8 weights). On a CPU without VNNI the
latter is slower than fp32 (shared/STACK.md); it is here to measure that, not to recommend it.
"""
from __future__ import annotations

import dataclasses
import hashlib
import logging
import math
from pathlib import Path

import numpy as np
import torch

from edge_ssl.errors import EdgeSSLError
from edge_ssl.runtime.base import Runner
from edge_ssl.runtime.meta import IMAGE_ENCODER, ArtifactMeta

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


def speech_encoder_of(model: torch.nn.Module, kind: str) -> torch.nn.Module:
    """The SpeechEncoder inside a ``ctc`` or ``speech_encoder`` model."""
    return model.encoder if kind == "ctc" else model


def longest_input(enc: torch.nn.Module, for_export: bool = False) -> tuple[int | None, str]:
    """(the longest input ``enc`` takes in samples or None for no limit, why). Sinusoidal positions end at
    ``max_positions`` frames; an exported padded encoder (``pad_to_frames``) is a fixed graph over its window,
    so it takes no more than the window (eager attends a longer clip alone, as Whisper implementations do)."""
    limit, why = enc.max_samples, f"its sinusoidal positions cover {enc.cfg.max_positions} frames"
    window = enc.cfg.pad_to_frames * enc.downsample_rate
    if for_export and window and (limit is None or window < limit):
        limit, why = window, (f"its exported graph is its fixed window: every input is padded to "
                              f"{window / 16000:g} s (pad_to_frames {enc.cfg.pad_to_frames})")
    return limit, why


def model_artifact_meta(model: torch.nn.Module, file_meta: dict, path: str | Path, *, min_samples: int,
                        max_samples: int | None, precision: str = "fp32", for_export: bool = False) -> ArtifactMeta:
    """ArtifactMeta of an edge-ssl speech model (``ctc`` or ``speech_encoder``) loaded from ``path``.
    ``max_samples`` None: the model's longest input (``longest_input``), at most 30 s; beyond it, an error."""
    kind = file_meta.get("kind")
    enc = speech_encoder_of(model, kind)
    if kind == "ctc":
        output, dim, tokens = "logits", model.vocab_size, tuple(file_meta["vocab"])
    elif kind == "speech_encoder":
        output, dim, tokens = "features", enc.embed_dim, ()
    else:
        raise EdgeSSLError(f"{path}: cannot run or export a {kind!r} model as speech (expected ctc or speech_encoder)")
    # At least two frames: shorter inputs fail inside the graph (a log-mel model's receptive field is 1040 samples)
    min_samples = max(min_samples, enc.receptive_field + enc.downsample_rate, enc.min_samples)
    limit, why = longest_input(enc, for_export)
    if max_samples is None:
        max_samples = DEFAULT_MAX_SAMPLES if limit is None else min(DEFAULT_MAX_SAMPLES, limit)
    elif limit is not None and max_samples > limit:
        raise EdgeSSLError(f"{path}: inputs of up to {max_samples} samples ({max_samples / 16000:g} s) asked, but this "
                           f"model takes at most {limit} ({limit / 16000:.3f} s): {why}; use --max-seconds "
                           f"{math.floor(limit / 160) / 100:g} or less")
    return ArtifactMeta(
        model_name=Path(path).stem, model_version=model_version(path), output=output, output_dim=dim,
        min_samples=min_samples, max_samples=max_samples, frame_stride=enc.downsample_rate,
        receptive_field=enc.receptive_field, normalize="utterance" if enc.cfg.normalize else "none", tokens=tokens,
        blank_id=0, precision=precision)


VISION_KINDS = ("vit", "mae")


def image_artifact_meta(vit: torch.nn.Module, path: str | Path, precision: str = "fp32") -> ArtifactMeta:
    """ArtifactMeta of a ViT image encoder (``vit`` file, or the encoder of an ``mae`` file) from ``path``."""
    from edge_ssl.vision.images import MEAN, STD

    c = vit.cfg
    # grayscale/other channel counts use the RGB average, as vision.images.normalize does
    mean, std = (MEAN, STD) if c.in_chans == 3 else ((sum(MEAN) / 3,) * c.in_chans, (sum(STD) / 3,) * c.in_chans)
    return ArtifactMeta(model_name=Path(path).stem, model_version=model_version(path), output="features",
                        output_dim=c.embed_dim, min_samples=0, max_samples=0, normalize="none", precision=precision,
                        task=IMAGE_ENCODER, image_size=c.image_size, in_chans=c.in_chans, mean=tuple(mean),
                        std=tuple(std))


def load_model_and_meta(path: str | Path, *, min_samples: int, max_samples: int | None, precision: str = "fp32",
                        for_export: bool = False) -> tuple[torch.nn.Module, ArtifactMeta]:
    """Any runnable/exportable model file -> (eval model, its ArtifactMeta), by the file's ``kind``.
    Image encoders ignore the sample range; ``max_samples`` None: the model's own longest input, at most 30 s."""
    from edge_ssl.models.store import read_model_meta

    if read_model_meta(path).get("kind") in VISION_KINDS:
        from edge_ssl.vision.model_io import load_vision_model

        vit = load_vision_model(path)[0]
        return vit, image_artifact_meta(vit, path, precision)
    model, file_meta = load_speech_model(path)
    return model, model_artifact_meta(model, file_meta, path, min_samples=min_samples, max_samples=max_samples,
                                      precision=precision, for_export=for_export)


def load_speech_model(path: str | Path) -> tuple[torch.nn.Module, dict]:
    """A ``ctc`` or ``speech_encoder`` model file -> (eval model with weight norm folded, file metadata)."""
    from edge_ssl.models.store import load_model

    model, meta = load_model(path)
    speech_encoder_of(model, meta["kind"]).fold_for_inference()
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
        # the shortest speech input yields one frame (400 samples for the wav2vec 2.0 conv stack; 201 for
        # Whisper's front-end, whose reflection pad needs them); the longest is the model's, at most 30 s
        model, meta = load_model_and_meta(path, min_samples=400, max_samples=None,
                                          precision="fp32" if quant == "none" else quant)
        if not meta.is_image:
            enc = speech_encoder_of(model, "ctc" if meta.output == "logits" else "speech_encoder")
            meta = dataclasses.replace(meta, min_samples=max(meta.receptive_field, enc.min_samples))
        super().__init__(path, meta)
        if threads:
            torch.set_num_threads(threads)
        self.model = apply_torchao(model, quant)

    @torch.inference_mode()
    def _run(self, x: np.ndarray) -> np.ndarray:
        x = torch.from_numpy(x)  # (1, S) wave or (1, C, S, S) image
        if self.meta.is_image:
            return self.model.features(x).float().numpy()  # (1, D)
        out = self.model(x)
        out = out[0] if self.meta.output == "logits" else out  # (1, T, V) logits or (1, T, C) features
        return out.float().numpy()
