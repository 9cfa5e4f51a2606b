"""Export wrappers: the exact graph an artifact contains, with its input spec and metadata.

An artifact's ``forward`` takes a batch of one, ``(1, S)`` float32, and returns ``(1, T, V)``; S is dynamic
within [min_samples, max_samples]. An image encoder takes ``(1, C, S, S)`` and returns ``(1, D)``, all
static. A model family is one subclass: how to call the model, what example input to trace with, which
input dims are dynamic; ``wrap`` picks it by ``meta.task``.
"""
from __future__ import annotations

from abc import abstractmethod

import torch
from torch import nn
from torch.export import Dim

from edge_ssl.errors import EdgeSSLError
from edge_ssl.runtime.meta import IMAGE_ENCODER, SPEECH_CTC, SPEECH_ENCODER, ArtifactMeta

# Two output frames: with one, export would specialise a size-1 dim and the graph could not take longer
# input (the conv stack's 400-sample receptive field + one 320-sample stride).
MIN_EXPORT_SAMPLES = 720


class ExportWrapper(nn.Module):
    """A model in eval mode plus what export needs to know about its input."""

    input_name = "wave"  # the graph input's name (ONNX input name; forward's argument)

    def __init__(self, model: nn.Module, meta: ArtifactMeta):
        super().__init__()
        self.model, self.meta = model.eval(), meta

    @abstractmethod
    def forward(self, x: torch.Tensor) -> torch.Tensor: ...

    @abstractmethod
    def example_inputs(self, size: int) -> tuple[torch.Tensor, ...]: ...

    @abstractmethod
    def dynamic_shapes(self) -> dict | None: ...

    def onnx_example_inputs(self) -> tuple[torch.Tensor, ...]:
        return self.example_inputs()


class SpeechWrapper(ExportWrapper):
    """Waveform (1, S) -> (1, T, V). Traced at ``max_samples`` so ExecuTorch plans memory for the longest
    input (a range without a planned max fails at run time with error 0x10, shared/STACK.md pitfall 1)."""

    def __init__(self, model: nn.Module, meta: ArtifactMeta):
        if meta.min_samples < MIN_EXPORT_SAMPLES:
            raise EdgeSSLError(f"min length {meta.min_samples} samples is below {MIN_EXPORT_SAMPLES} "
                               f"({MIN_EXPORT_SAMPLES / meta.sample_rate * 1000:.0f} ms, two output frames)")
        super().__init__(model, meta)

    def example_inputs(self, size: int | None = None) -> tuple[torch.Tensor, ...]:
        n = self.meta.max_samples if size is None else size
        g = torch.Generator().manual_seed(0)
        return (0.1 * torch.randn(1, n, generator=g),)  # (1, S)

    def dynamic_shapes(self) -> dict:
        # Dim.DYNAMIC (not a named Dim): the conv stack's frame arithmetic yields guards (T != 1) that a
        # named Dim's solver cannot prove; the min >= 720 above makes them true.
        return {"wave": {1: Dim.DYNAMIC(min=self.meta.min_samples, max=self.meta.max_samples)}}

    def onnx_example_inputs(self) -> tuple[torch.Tensor, ...]:
        return self.example_inputs(self.meta.min_samples * 4)


class SpeechCTCWrapper(SpeechWrapper):
    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        return self.model(wave)[0]  # (1, S) -> logits (1, T, V)


class SpeechEncoderWrapper(SpeechWrapper):
    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        return self.model(wave)  # (1, S) -> last hidden state (1, T, C)


class ImageEncoderWrapper(ExportWrapper):
    """Normalised image (1, C, S, S) -> feature (1, D) (``ViT.features``: ``cfg.pool`` of the last layer).
    Fully static: one image size per artifact, so XNNPACK takes the whole graph."""

    input_name = "images"

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.model.features(images)  # (1, C, S, S) -> (1, D)

    def example_inputs(self, size: int | None = None) -> tuple[torch.Tensor, ...]:
        g = torch.Generator().manual_seed(0)
        return (torch.randn(1, *self.meta.image_shape, generator=g),)  # (1, C, S, S)

    def dynamic_shapes(self) -> None:
        return None


WRAPPERS = {SPEECH_CTC: SpeechCTCWrapper, SPEECH_ENCODER: SpeechEncoderWrapper, IMAGE_ENCODER: ImageEncoderWrapper}


def wrap(model: nn.Module, meta: ArtifactMeta) -> ExportWrapper:
    return WRAPPERS[meta.task](model, meta).eval()  # a new Module is in training mode; export graphs inference
