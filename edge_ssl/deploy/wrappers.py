"""Export wrappers: the exact graph an artifact contains, with its input spec and metadata.

An artifact's ``forward`` takes a batch of one, ``(1, S)`` float32, and returns ``(1, T, V)``; S is dynamic
within [min_samples, max_samples]. Adding a model family (e.g. a ViT image encoder) is one subclass:
say how to call the model, what example input to trace with and which input dims are dynamic.
"""
from __future__ import annotations

from abc import abstractmethod

import torch
from torch import nn
from torch.export import Dim

from edge_ssl.errors import EdgeSSLError
from edge_ssl.runtime.meta import ArtifactMeta

# Two output frames: with one, export would specialise a size-1 dim and the graph could not take longer
# input (the conv stack's 400-sample receptive field + one 320-sample stride).
MIN_EXPORT_SAMPLES = 720


class ExportWrapper(nn.Module):
    """A model in eval mode plus what export needs to know about its input."""

    def __init__(self, model: nn.Module, meta: ArtifactMeta):
        super().__init__()
        self.model, self.meta = model.eval(), meta

    @abstractmethod
    def forward(self, x: torch.Tensor) -> torch.Tensor: ...

    @abstractmethod
    def example_inputs(self, size: int) -> tuple[torch.Tensor, ...]: ...

    @abstractmethod
    def dynamic_shapes(self) -> dict | None: ...


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


class SpeechCTCWrapper(SpeechWrapper):
    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        return self.model(wave)[0]  # (1, S) -> logits (1, T, V)


class SpeechEncoderWrapper(SpeechWrapper):
    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        return self.model(wave)  # (1, S) -> last hidden state (1, T, C)


WRAPPERS = {"logits": SpeechCTCWrapper, "features": SpeechEncoderWrapper}


def wrap(model: nn.Module, meta: ArtifactMeta) -> ExportWrapper:
    return WRAPPERS[meta.output](model, meta)
