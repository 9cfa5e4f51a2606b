"""The wav2vec 2.0 convolutional feature extractor: raw 16 kHz waveform -> 50 Hz frames.

With ``frontend="logmel"`` the conv stack runs over 100 Hz log-mel frames (models/logmel.py) instead of the
raw wave: the edge option, ~100x cheaper than learning the filterbank from samples. ``frontend="whisper"``
is Whisper's own log-mel (models/whisper_frontend.py), for imported Whisper encoders.

Two modes, as in fairseq:
- ``group_norm``: per-channel time normalisation after the first conv only (wav2vec 2.0 / HuBERT base);
- ``layer_norm``: a per-frame LayerNorm after every conv (large models, data2vec);
- ``none``: conv + GELU only (Whisper).

``normalize_eps`` (not None): each input is first brought to zero mean and unit variance over its samples
(``EncoderConfig.normalize``), so every caller of the extractor, and every exported graph, sees it.

``padding=True`` pads every conv with kernel // 2 zeros on both sides (Whisper's convs: frame t stays centred
on input frame stride * t); in a padded batch the frames past each utterance's end are re-zeroed before the
next conv, so the result equals each utterance run alone.
"""
from __future__ import annotations

import torch
from torch import nn

from edge_ssl.models.logmel import LogMel
from edge_ssl.models.norm import LayerNorm, TimeNorm, normalize_utterance
from edge_ssl.models.whisper_frontend import WhisperLogMel


class ConvBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int, bias: bool, norm: str | None,
                 padding: int = 0):
        super().__init__()
        self.kernel, self.stride, self.padding = kernel, stride, padding
        self.conv = nn.Conv1d(c_in, c_out, kernel, stride=stride, bias=bias, padding=padding)
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
        return torch.div(length + 2 * self.padding - self.kernel, self.stride, rounding_mode="floor") + 1


class ConvFeatureExtractor(nn.Module):
    """(B, S) waveform -> (B, T, C) frames. ``layers`` is a list of (channels, kernel, stride), applied to the
    raw wave (``frontend="conv"``) or to ``n_mels`` log-mel channels at 100 Hz (``frontend="logmel"``, or
    ``"whisper"`` for Whisper's log-mel)."""

    def __init__(self, layers: list[tuple[int, int, int]], mode: str = "group_norm", bias: bool = False,
                 frontend: str = "conv", n_mels: int = 80, padding: bool = False,
                 normalize_eps: float | None = None):
        super().__init__()
        self.normalize_eps = normalize_eps  # None: the wave as given
        if mode not in ("group_norm", "layer_norm", "none"):
            raise ValueError(f"extractor_mode must be group_norm, layer_norm or none, got {mode!r}")
        if frontend not in ("conv", "logmel", "whisper"):
            raise ValueError(f"frontend must be conv, logmel or whisper, got {frontend!r}")
        self.logmel = {"logmel": LogMel, "whisper": WhisperLogMel}[frontend](n_mels) if frontend != "conv" else None
        blocks, c_in = [], (n_mels if self.logmel is not None else 1)
        for i, (c_out, k, s) in enumerate(layers):
            norm = {"group_norm": "time" if i == 0 else None, "layer_norm": "layer", "none": None}[mode]
            blocks.append(ConvBlock(c_in, c_out, k, s, bias, norm, k // 2 if padding else 0))
            c_in = c_out
        self.conv_layers = nn.ModuleList(blocks)
        self.mode, self.padding = mode, padding
        self.out_dim = c_in
        # Frame geometry: T = (S - receptive_field) // downsample_rate + 1, exact for every S >= min_samples.
        # Each stage maps n -> (n + 2p - k) // s + 1; composed from the front, R += D (k - 1 - 2p), D *= s,
        # starting from the front-end's own (R, D): raw samples (1, 1), LogMel (400, 160), Whisper's log-mel
        # (160, 160), as its S // 160 is (S - 160) // 160 + 1 (centred frames, reflect/zero padded).
        # For unpadded stacks R is the receptive field (400 samples for wav2vec 2.0's); for padded convs it is
        # only where the first frame starts to count: Whisper's frame t is centred on sample 320 t.
        rf, rate = {"conv": (1, 1), "logmel": (LogMel.kernel, LogMel.stride),
                    "whisper": (WhisperLogMel.stride, WhisperLogMel.stride)}[frontend]
        for block in blocks:
            rf, rate = rf + rate * (block.kernel - 1 - 2 * block.padding), rate * block.stride
        self.receptive_field, self.downsample_rate = rf, rate
        # The shortest input the graph runs on: Whisper's reflection needs more than 200 samples.
        self.min_samples = max(rf, WhisperLogMel.left + 1) if frontend == "whisper" else rf

    def num_frames(self, num_samples: int) -> int:
        """Frames of an unpadded input of ``num_samples`` (plain or symbolic int: export traces through it)."""
        return (num_samples - self.receptive_field) // self.downsample_rate + 1

    def frame_lengths(self, lengths: torch.Tensor) -> torch.Tensor:
        """Sample counts (B,) -> frame counts (B,)."""
        if self.logmel is not None:
            lengths = self.logmel.out_length(lengths)
        for block in self.conv_layers:
            lengths = block.out_length(lengths)
        return lengths

    def forward(self, wave: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        # wave: (B, S) -> (B, T, C)
        if self.normalize_eps is not None:
            wave = normalize_utterance(wave, lengths, self.normalize_eps)  # (B, S)
        if isinstance(self.logmel, WhisperLogMel):
            # (B, n_mels, T_mel) from the (B, S) input itself (its reflection slices the graph input); the
            # lengths for its per-utterance clamp
            x = self.logmel(wave, lengths)
        else:
            x = wave.reshape(wave.shape[0], 1, -1)  # (B, 1, S); a view XNNPACK takes (unsqueeze(1) it does not)
            if self.logmel is not None:
                x = self.logmel(x)                  # (B, n_mels, T_mel)
        if self.logmel is not None and lengths is not None:
            lengths = self.logmel.out_length(lengths)
        for block in self.conv_layers:
            if self.padding and lengths is not None:  # a padded conv must see zeros past the end, as when alone
                x = x * (torch.arange(x.shape[-1], device=x.device)[None, :] < lengths[:, None]).to(x.dtype)[:, None]
            x = block(x, lengths)
            if lengths is not None:
                lengths = block.out_length(lengths)
        return x.transpose(1, 2).contiguous()  # (B, T, C); contiguous: else export guards on T's stride order
