"""Log-mel filterbank front-end built from export-friendly ops.

    wave (B, 1, S) -> windowed DFT as a fixed Conv1d (25 ms Hann window, 10 ms hop) -> power
                   -> mel matmul -> log  ->  (B, n_mels, T),  T = (S - 400) // 160 + 1

The STFT is a strided convolution with frozen cosine/sine kernels rather than ``torch.stft``: ExecuTorch's
XNNPACK backend and ONNX both take Conv1d + MatMul + Log, and neither has a portable STFT. A learned conv
stack on raw audio costs ~5 GFLOP per second of audio (STACK.md); this costs ~0.04.
"""
from __future__ import annotations

import math

import torch
from torch import nn


def htk_mel_filters(n_freqs: int, n_mels: int, sample_rate: int, f_min: float = 0.0,
                   f_max: float | None = None) -> torch.Tensor:
    """Triangular filters on the HTK mel scale, (n_freqs, n_mels), unnormalised peaks of 1 (Kaldi-style)."""
    f_max = f_max or sample_rate / 2

    def hz_to_mel(f: float | torch.Tensor):
        return 2595.0 * (torch.log10(1.0 + torch.as_tensor(f) / 700.0))

    mels = torch.linspace(float(hz_to_mel(f_min)), float(hz_to_mel(f_max)), n_mels + 2, dtype=torch.float64)
    hz = 700.0 * (10 ** (mels / 2595.0) - 1.0)                                    # (n_mels + 2,)
    freqs = torch.linspace(0, sample_rate / 2, n_freqs, dtype=torch.float64)      # (n_freqs,)
    lower, centre, upper = hz[:-2], hz[1:-1], hz[2:]
    rising = (freqs[:, None] - lower[None, :]) / (centre - lower)[None, :]
    falling = (upper[None, :] - freqs[:, None]) / (upper - centre)[None, :]
    return torch.clamp(torch.minimum(rising, falling), min=0.0).float()


class LogMel(nn.Module):
    """(B, 1, S) 16 kHz wave -> (B, n_mels, T) natural-log mel power. No trainable parameters."""

    kernel, stride = 400, 160  # 25 ms window, 10 ms hop at 16 kHz

    def __init__(self, n_mels: int = 80, sample_rate: int = 16000):
        super().__init__()
        self.n_mels = n_mels
        n = self.kernel
        n_freqs = n // 2 + 1
        t = torch.arange(n, dtype=torch.float64)
        window = 0.5 - 0.5 * torch.cos(2 * math.pi * t / n)                       # periodic Hann
        k = torch.arange(n_freqs, dtype=torch.float64)[:, None]
        angle = 2 * math.pi * k * t[None, :] / n                                   # (n_freqs, n)
        # Persistent buffers, not parameters: fixed signal processing that the optimiser and quantizer leave
        # alone. (Non-persistent buffers break ExecuTorch lowering; saving them costs 0.7 MB.)
        self.register_buffer("cos", (torch.cos(angle) * window).float().unsqueeze(1))     # (F, 1, n)
        self.register_buffer("sin", (-torch.sin(angle) * window).float().unsqueeze(1))    # (F, 1, n)
        self.register_buffer("fbank", htk_mel_filters(n_freqs, n_mels, sample_rate).T.contiguous())  # (M, F)

    def out_length(self, length: torch.Tensor) -> torch.Tensor:
        return torch.div(length - self.kernel, self.stride, rounding_mode="floor") + 1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # x: (B, 1, S) -> (B, M, T)
        # Two convs rather than one split in half: slices fall outside the XNNPACK delegate; so would the
        # broadcast of a 3-D @ 2-D matmul, hence linear.
        x = x * 32768.0                                                            # int16 scale
        re = nn.functional.conv1d(x, self.cos, stride=self.stride)                 # (B, F, T)
        im = nn.functional.conv1d(x, self.sin, stride=self.stride)                 # (B, F, T)
        power = re * re + im * im                                                  # (B, F, T)
        mel = nn.functional.linear(power.transpose(1, 2), self.fbank)             # (B, T, M)
        return torch.log(mel + 1.0).transpose(1, 2)                                # (B, M, T); +1: floor at int16 scale
