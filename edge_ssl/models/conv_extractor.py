"""The wav2vec 2.0 convolutional feature extractor: raw 16 kHz waveform -> 50 Hz frames.

With ``frontend="logmel"`` the conv stack runs over 100 Hz log-mel frames (models/logmel.py) instead of the
raw wave: the edge option, ~100x cheaper than learning the filterbank from samples.

Two modes, as in fairseq:
- ``group_norm``: per-channel time normalisation after the first conv only (wav2vec 2.0 / HuBERT base);
- ``layer_norm``: a per-frame LayerNorm after every conv (large models, data2vec).
"""
from __future__ import annotations

import torch
from torch import nn

from edge_ssl.models.logmel import LogMel
from edge_ssl.models.norm import LayerNorm, TimeNorm


class ConvBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int, bias: bool, norm: str | None):
        super().__init__()
        self.kernel, self.stride = kernel, stride
        self.conv = nn.Conv1d(c_in, c_out, kernel, stride=stride, bias=bias)
        self.norm_kind = norm
        if norm == "time":
            self.norm = TimeNorm(c_out)
        elif norm == "layer":
            self.norm = LayerNorm(c_out)
        else:
            self.norm = None
        self.act = nn.GELU()

    def forward(self, x: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        # x: (B, C_in, S) -> (B, C_out, S'); lengths: (B,) real samples/frames in x, or None (unpadded)
        x = self.conv(x)
        if self.norm_kind == "time":
            valid = None
            if lengths is not None:
                t = torch.arange(x.shape[-1], device=x.device)
                valid = (t[None, :] < self.out_length(lengths)[:, None]).to(x.dtype).unsqueeze(1)  # (B, 1, S')
            x = self.norm(x, valid)
        elif self.norm_kind == "layer":
            x = self.norm(x.transpose(1, 2)).transpose(1, 2)
        return self.act(x)

    def out_length(self, length: torch.Tensor) -> torch.Tensor:
        return torch.div(length - self.kernel, self.stride, rounding_mode="floor") + 1


class ConvFeatureExtractor(nn.Module):
    """(B, S) waveform -> (B, T, C) frames. ``layers`` is a list of (channels, kernel, stride), applied to the
    raw wave (``frontend="conv"``) or to ``n_mels`` log-mel channels at 100 Hz (``frontend="logmel"``)."""

    def __init__(self, layers: list[tuple[int, int, int]], mode: str = "group_norm", bias: bool = False,
                 frontend: str = "conv", n_mels: int = 80):
        super().__init__()
        if mode not in ("group_norm", "layer_norm"):
            raise ValueError(f"extractor_mode must be group_norm or layer_norm, got {mode!r}")
        if frontend not in ("conv", "logmel"):
            raise ValueError(f"frontend must be conv or logmel, got {frontend!r}")
        self.logmel = LogMel(n_mels) if frontend == "logmel" else None
        blocks, c_in = [], (n_mels if self.logmel is not None else 1)
        for i, (c_out, k, s) in enumerate(layers):
            norm = ("time" if i == 0 else None) if mode == "group_norm" else "layer"
            blocks.append(ConvBlock(c_in, c_out, k, s, bias, norm))
            c_in = c_out
        self.conv_layers = nn.ModuleList(blocks)
        self.mode = mode
        self.out_dim = c_in
        # The mel stage acts as one more strided "layer" (kernel 400, hop 160) in front of the blocks.
        geometry = ([(0, LogMel.kernel, LogMel.stride)] if self.logmel is not None else []) + list(layers)
        self.downsample_rate = 1
        for _, _, s in geometry:
            self.downsample_rate *= s
        # The shortest input that yields one frame (400 samples = 25 ms for the standard stack).
        rf = 1
        for _, k, s in reversed(geometry):
            rf = (rf - 1) * s + k
        self.receptive_field = rf

    def frame_lengths(self, lengths: torch.Tensor) -> torch.Tensor:
        """Sample counts (B,) -> frame counts (B,)."""
        if self.logmel is not None:
            lengths = self.logmel.out_length(lengths)
        for block in self.conv_layers:
            lengths = block.out_length(lengths)
        return lengths

    def forward(self, wave: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        # wave: (B, S) -> (B, T, C)
        x = wave.reshape(wave.shape[0], 1, -1)  # (B, 1, S); a view XNNPACK takes (unsqueeze(1) it does not)
        if self.logmel is not None:
            x = self.logmel(x)                  # (B, n_mels, T_mel)
            if lengths is not None:
                lengths = self.logmel.out_length(lengths)
        for block in self.conv_layers:
            x = block(x, lengths)
            if lengths is not None:
                lengths = block.out_length(lengths)
        return x.transpose(1, 2).contiguous()  # (B, T, C); contiguous: else export guards on T's stride order
