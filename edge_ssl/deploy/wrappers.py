"""Export wrappers: the exact graph an artifact contains, with its input spec and metadata. The wrapped
model's layers are in their export form (``export_modules.for_export``).

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

from edge_ssl.deploy.export_modules import for_export
from edge_ssl.errors import EdgeSSLError
from edge_ssl.runtime.meta import IMAGE_ENCODER, SPEECH_CTC, SPEECH_ENCODER, ArtifactMeta

# Two output frames: with one, export would specialise a size-1 dim and the graph could not take longer
# input (the conv stack's 400-sample receptive field + one 320-sample stride; Whisper's front-end: 480).
MIN_EXPORT_FRAMES = 2


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
    input (a range without a planned max fails at run time with error 0x10, shared/STACK.md pitfall 1).

    A padded encoder (``pad_to_frames`` > 0, Whisper's way) is traced as what it computes: the input padded
    with silence to the fixed window (``max_samples`` <= the window, checked when the metadata was built),
    one static graph, and its output cut to the input's own T = (S - receptive_field) // frame_stride + 1
    frames: the pad in and the cut out are the only length-dependent ops."""

    def __init__(self, model: nn.Module, meta: ArtifactMeta):
        if meta.num_frames(meta.min_samples) < MIN_EXPORT_FRAMES:
            ms = meta.min_samples / meta.sample_rate * 1000
            raise EdgeSSLError(f"min length {meta.min_samples} samples ({ms:.0f} ms) gives fewer than "
                               f"{MIN_EXPORT_FRAMES} output frames; the shortest is "
                               f"{meta.receptive_field + meta.frame_stride} samples")
        super().__init__(model, meta)
        self.encoder = model.encoder if meta.task == SPEECH_CTC else model  # the SpeechEncoder
        self.window = self.encoder.cfg.pad_to_frames * self.encoder.downsample_rate  # samples; 0: none
        if self.window and meta.max_samples > self.window:
            raise EdgeSSLError(f"max length {meta.max_samples} samples exceeds the padded encoder's window of "
                               f"{self.window} samples")
        self.encoder.compact_positions(self.encoder.num_frames(max(self.window, meta.max_samples)))

    def run(self, wave: torch.Tensor) -> torch.Tensor:
        """(1, S) -> the model's output (1, T, D), through the window for a padded encoder."""
        if not self.window:
            return self.call(wave)
        S = wave.shape[1]
        out = self.call(nn.functional.pad(wave, (0, self.window - S)))  # (1, T_window, D): one static graph
        return out[:, :self.encoder.num_frames(S)]                       # (1, T, D)

    @abstractmethod
    def call(self, wave: torch.Tensor) -> torch.Tensor:
        """(1, S) -> the model's output (1, T, D)."""

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        return self.run(wave)

    def example_inputs(self, size: int | None = None) -> tuple[torch.Tensor, ...]:
        n = self.meta.max_samples if size is None else size
        g = torch.Generator().manual_seed(0)
        return (0.1 * torch.randn(1, n, generator=g),)  # (1, S)

    def dynamic_shapes(self) -> dict:
        # Dim.DYNAMIC (not a named Dim): the conv stack's frame arithmetic yields guards (T != 1) that a
        # named Dim's solver cannot prove; the two-frame minimum above makes them true.
        return {"wave": {1: Dim.DYNAMIC(min=self.meta.min_samples, max=self.meta.max_samples)}}

    def onnx_example_inputs(self) -> tuple[torch.Tensor, ...]:
        return self.example_inputs(min(self.meta.min_samples * 4, self.meta.max_samples))


class SpeechCTCWrapper(SpeechWrapper):
    def call(self, wave: torch.Tensor) -> torch.Tensor:
        return self.model(wave)[0]  # (1, S) -> logits (1, T, V)


class SpeechEncoderWrapper(SpeechWrapper):
    def call(self, wave: torch.Tensor) -> torch.Tensor:
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


def export_checked(wrapper: ExportWrapper, module: nn.Module | None = None) -> torch.export.ExportedProgram:
    """``torch.export`` of ``module`` (default: the wrapper) with the wrapper's inputs and dynamic shapes,
    refusing a graph whose accepted lengths export narrowed. ``Dim.DYNAMIC`` lets export specialise silently
    when the model branches on the length (a guard): the artifact would then fail or be wrong outside the
    narrowed range, while its metadata still promised the whole one."""
    shapes = wrapper.dynamic_shapes()
    program = torch.export.export(wrapper if module is None else module, wrapper.example_inputs(),
                                  dynamic_shapes=shapes)
    if shapes:
        lo, hi = wrapper.meta.min_samples, wrapper.meta.max_samples
        size = next(n for n in program.graph.nodes if n.op == "placeholder" and n.name == wrapper.input_name
                    ).meta["val"].shape[1]                      # the input's length: a symbol, or an int if specialised
        got = program.range_constraints.get(size.node.expr) if isinstance(size, torch.SymInt) else None
        if got is None or int(got.lower) > lo or int(got.upper) < hi:
            accepted = f"{size}..{size}" if got is None else f"{got.lower}..{got.upper}"
            raise EdgeSSLError(f"export narrowed the input length range {lo}..{hi} samples to {accepted}: the model "
                               "branches on the length; export a narrower --min/--max-seconds or fix the model")
    return program


WRAPPERS = {SPEECH_CTC: SpeechCTCWrapper, SPEECH_ENCODER: SpeechEncoderWrapper, IMAGE_ENCODER: ImageEncoderWrapper}


def wrap(model: nn.Module, meta: ArtifactMeta, backend: str = "xnnpack") -> ExportWrapper:
    """The export graph of ``model`` for ``backend`` (xnnpack | onnx): a copy with its layers in their export
    form; ``model`` is unchanged."""
    return WRAPPERS[meta.task](for_export(model, backend), meta).eval()  # a new Module is in training mode
