"""Kaldi-style log-mel filterbanks and MFCCs (+ deltas), written export-safe: conv1d and matmuls only.

Per frame Kaldi does: remove the DC offset, pre-emphasis, a window, zero-pad to ``n_fft``, the power
spectrum, triangular mel filters, log; MFCC adds a DCT and a cepstral lifter. Everything before the power
spectrum is linear in the frame, so it folds into ONE fixed conv1d kernel (DFT basis x window x
pre-emphasis x DC removal), strided by the hop: no ``stft``, no complex tensors, no data-dependent shapes.
That is also why the same module can sit inside an exported model.

Defaults follow ``torchaudio.compliance.kaldi.mfcc`` as fairseq's HuBERT ``dump_mfcc_feature.py`` calls it
(25 ms / 10 ms frames, povey window, 23 mel bins from 20 Hz, 13 cepstra, lifter 22, C0 kept, no dither,
snip edges) followed by deltas and delta-deltas (window 5): 39 dims at 100 Hz.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn


@dataclass
class FeatureConfig:
    sample_rate: int = 16000
    win_length: int = 400            # samples per frame (25 ms)
    hop_length: int = 160            # samples between frames (10 ms -> 100 Hz)
    n_fft: int = 512                 # Kaldi pads the frame to the next power of two
    n_mels: int = 23                 # Kaldi's MFCC default; 80 is usual for log-mel front-ends
    f_min: float = 20.0              # lowest mel filter edge (Hz)
    f_max: float = 0.0               # highest edge; <= 0 means Nyquist + f_max (Kaldi's convention)
    preemphasis: float = 0.97
    remove_dc: bool = True           # subtract each frame's mean before pre-emphasis
    window: Literal["povey", "hann", "hamming"] = "povey"
    n_mfcc: int = 13                 # cepstra kept (C0 included: use_energy=False)
    lifter: float = 22.0             # cepstral liftering coefficient; 0 disables
    delta_order: int = 2             # 0: static only; 1: + deltas; 2: + delta-deltas (HuBERT: 39 dims)
    delta_window: int = 2            # N in the regression formula (torchaudio compute_deltas win_length 5)

    def validate(self) -> None:
        if self.win_length > self.n_fft:
            raise ValueError(f"win_length ({self.win_length}) must not exceed n_fft ({self.n_fft})")
        if self.n_mfcc > self.n_mels:
            raise ValueError(f"n_mfcc ({self.n_mfcc}) must not exceed n_mels ({self.n_mels})")

    @property
    def frame_rate(self) -> float:
        return self.sample_rate / self.hop_length


def _window(kind: str, n: int) -> torch.Tensor:
    i = torch.arange(n, dtype=torch.float64)
    hann = 0.5 - 0.5 * torch.cos(2 * math.pi * i / (n - 1))  # Kaldi's windows are symmetric
    if kind == "povey":
        return hann.pow(0.85)
    if kind == "hann":
        return hann
    if kind == "hamming":
        return 0.54 - 0.46 * torch.cos(2 * math.pi * i / (n - 1))
    raise ValueError(f"unknown window {kind!r}")


def frame_kernel(cfg: FeatureConfig) -> torch.Tensor:
    """(2 * (n_fft//2 + 1), 1, win_length): real and imaginary DFT rows of the processed frame."""
    n, bins = cfg.win_length, cfg.n_fft // 2 + 1
    ops = torch.eye(n, dtype=torch.float64)
    if cfg.remove_dc:
        ops = ops - torch.full((n, n), 1.0 / n, dtype=torch.float64)
    if cfg.preemphasis:
        pre = torch.eye(n, dtype=torch.float64)  # y[i] = x[i] - a x[i-1]; y[0] = x[0] - a x[0] (Kaldi)
        pre[torch.arange(1, n), torch.arange(n - 1)] = -cfg.preemphasis
        pre[0, 0] = 1.0 - cfg.preemphasis
        ops = pre @ ops
    ops = _window(cfg.window, n)[:, None] * ops                      # (n, n): frame -> windowed frame
    k = torch.arange(bins, dtype=torch.float64)[:, None]
    t = torch.arange(n, dtype=torch.float64)[None, :]               # zero-padding: samples n..n_fft-1 are 0
    angle = 2 * math.pi * k * t / cfg.n_fft
    dft = torch.cat([torch.cos(angle), -torch.sin(angle)])           # (2 * bins, n)
    return (dft @ ops).float().unsqueeze(1)


def kaldi_mel_filters(cfg: FeatureConfig) -> torch.Tensor:
    """(n_fft//2 + 1, n_mels) triangular filters on Kaldi's mel scale (1127 ln(1 + f/700))."""
    def mel(f):
        return 1127.0 * torch.log1p(torch.as_tensor(f, dtype=torch.float64) / 700.0)
    nyquist = cfg.sample_rate / 2
    f_max = cfg.f_max if cfg.f_max > 0 else nyquist + cfg.f_max
    edges = torch.linspace(float(mel(cfg.f_min)), float(mel(f_max)), cfg.n_mels + 2, dtype=torch.float64)
    freqs = mel(torch.arange(cfg.n_fft // 2 + 1, dtype=torch.float64) * cfg.sample_rate / cfg.n_fft)[:, None]
    left, centre, right = edges[:-2][None], edges[1:-1][None], edges[2:][None]
    up = (freqs - left) / (centre - left)
    down = (right - freqs) / (right - centre)
    return torch.clamp(torch.minimum(up, down), min=0.0).float()


def dct_matrix(n_mels: int, n_mfcc: int, lifter: float) -> torch.Tensor:
    """(n_mels, n_mfcc): orthonormal DCT-II (Kaldi's), with the cepstral lifter folded in."""
    i = torch.arange(n_mels, dtype=torch.float64)[:, None]
    k = torch.arange(n_mfcc, dtype=torch.float64)[None, :]
    dct = torch.cos(math.pi / n_mels * (i + 0.5) * k) * math.sqrt(2.0 / n_mels)
    dct[:, 0] = math.sqrt(1.0 / n_mels)
    if lifter:
        dct = dct * (1 + 0.5 * lifter * torch.sin(math.pi * k / lifter))
    return dct.float()


def add_deltas(x: torch.Tensor, order: int, window: int = 2) -> torch.Tensor:
    """(B, T, F) -> (B, T, F * (order + 1)): regression deltas over time, edges replicated."""
    n = torch.arange(-window, window + 1, dtype=x.dtype, device=x.device)
    kernel = n / (2 * (n[window + 1:] ** 2).sum())  # conv1d correlates: out[t] = sum_n n x[t+n] / denom
    feats, cur = [x], x
    for _ in range(order):
        y = cur.transpose(1, 2)                                            # (B, F, T)
        y = F.pad(y, (window, window), mode="replicate")
        c = y.shape[1]
        y = F.conv1d(y, kernel.view(1, 1, -1).expand(c, 1, -1), groups=c)
        cur = y.transpose(1, 2)
        feats.append(cur)
    return torch.cat(feats, dim=-1)


class KaldiFbank(nn.Module):
    """(B, S) waveform at ``sample_rate`` -> (B, T, n_mels) log mel energies, T = 1 + (S - win) // hop."""

    def __init__(self, cfg: FeatureConfig | None = None):
        super().__init__()
        self.cfg = cfg or FeatureConfig()
        self.cfg.validate()
        self.register_buffer("kernel", frame_kernel(self.cfg), persistent=False)
        self.register_buffer("mel", kaldi_mel_filters(self.cfg), persistent=False)

    def frame_lengths(self, lengths: torch.Tensor) -> torch.Tensor:
        return torch.div(lengths - self.cfg.win_length, self.cfg.hop_length, rounding_mode="floor") + 1

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        spec = F.conv1d(wave.reshape(wave.shape[0], 1, -1), self.kernel, stride=self.cfg.hop_length)  # (B, 2K, T)
        re, im = spec.chunk(2, dim=1)
        power = (re * re + im * im).transpose(1, 2)                        # (B, T, K)
        return torch.clamp(power @ self.mel, min=torch.finfo(torch.float32).eps).log()  # (B, T, n_mels)


class MFCC(nn.Module):
    """(B, S) -> (B, T, n_mfcc * (delta_order + 1)); with the defaults, HuBERT's 39-dim 100 Hz MFCCs."""

    def __init__(self, cfg: FeatureConfig | None = None):
        super().__init__()
        self.fbank = KaldiFbank(cfg)
        self.cfg = self.fbank.cfg
        self.register_buffer("dct", dct_matrix(self.cfg.n_mels, self.cfg.n_mfcc, self.cfg.lifter), persistent=False)

    @property
    def dim(self) -> int:
        return self.cfg.n_mfcc * (self.cfg.delta_order + 1)

    def frame_lengths(self, lengths: torch.Tensor) -> torch.Tensor:
        return self.fbank.frame_lengths(lengths)

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        ceps = self.fbank(wave) @ self.dct                                # (B, T, n_mfcc)
        return add_deltas(ceps, self.cfg.delta_order, self.cfg.delta_window) if self.cfg.delta_order else ceps
