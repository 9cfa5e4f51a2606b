"""Normalisation layers of the speech and image encoders: LayerNorm, per-channel TimeNorm, and the
per-utterance input normalisation.

One implementation each, for training and eager inference alike. The exported graph runs the same
arithmetic in the form the XNNPACK delegate takes (``deploy/export_modules.py`` swaps the modules at export):
``native_layer_norm``/``native_group_norm`` stay on the CPU fallback and split the graph into many partitions
(shared/STACK.md, pitfall 2), and XNNPACK takes ``mean.dim`` only as a keepdim mean over dims (2, 3) of a
4-D tensor (global average pooling). ``normalize_4d`` is that form; ``normalize_utterance`` uses it
directly (training and inference alike), so an exported graph carries the input normalisation whole.
Parameter names match ``nn.LayerNorm`` (``weight``, ``bias``) so checkpoints stay interchangeable.
"""
from __future__ import annotations

import torch
from torch import nn


def normalize_4d(x4: torch.Tensor, eps: float) -> torch.Tensor:
    """(N, M, L, 1) -> same shape with zero mean, unit variance over L, as 4-D means XNNPACK delegates."""
    xc = x4 - x4.mean(dim=(2, 3), keepdim=True)
    var = (xc * xc).mean(dim=(2, 3), keepdim=True)  # (B, N, 1, 1)
    return xc * torch.rsqrt(var + eps)


def normalize_utterance(wave: torch.Tensor, lengths: torch.Tensor | None, eps: float) -> torch.Tensor:
    """(B, S) -> (B, S): each utterance to zero mean, unit variance over its real samples, ``(x - mean) /
    sqrt(var + eps)`` (fairseq ``task.normalize``, HF ``do_normalize``); padding stays 0. Unpadded, as the
    4-D means XNNPACK delegates, so an exported graph carries it whole."""
    B = wave.shape[0]
    if lengths is None:
        return normalize_4d(wave.reshape(B, 1, -1, 1), eps).view(B, -1)
    keep = (torch.arange(wave.shape[1], device=wave.device)[None, :] < lengths[:, None]).to(wave.dtype)  # (B, S)
    n = lengths.to(wave.dtype).clamp_min(1)[:, None]
    mean = (wave * keep).sum(1, keepdim=True) / n
    var = ((wave - mean) ** 2 * keep).sum(1, keepdim=True) / n
    return (wave - mean) * torch.rsqrt(var + eps) * keep


class LayerNorm(nn.Module):
    """LayerNorm over the last dim. x: (..., C) -> (..., C)."""

    def __init__(self, dim: int, eps: float = 1e-5, affine: bool = True):
        super().__init__()
        self.dim, self.eps = dim, eps
        self.weight = nn.Parameter(torch.ones(dim)) if affine else None
        self.bias = nn.Parameter(torch.zeros(dim)) if affine else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return nn.functional.layer_norm(x, (self.dim,), self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return f"{self.dim}, eps={self.eps}, affine={self.weight is not None}"


class TimeNorm(nn.Module):
    """Per-channel normalisation over time: ``GroupNorm(C, C)`` on (B, C, T), as wav2vec 2.0's first conv.

    With ``valid`` (B, 1, T) float 1/0 the statistics use only real frames, so a padded batch gives the
    same result as each utterance alone (fairseq's GroupNorm does not; it is only equal when unpadded).
    """

    def __init__(self, dim: int, eps: float = 1e-5):
        super().__init__()
        self.dim, self.eps = dim, eps
        self.weight = nn.Parameter(torch.ones(dim))
        self.bias = nn.Parameter(torch.zeros(dim))

    def forward(self, x: torch.Tensor, valid: torch.Tensor | None = None) -> torch.Tensor:
        # x: (B, C, T); valid: (B, 1, T) or None
        if valid is None:
            mean = x.mean(dim=-1, keepdim=True)
            xc = x - mean
            var = (xc * xc).mean(dim=-1, keepdim=True)
        else:
            count = valid.sum(dim=-1, keepdim=True).clamp_min(1.0)
            mean = (x * valid).sum(dim=-1, keepdim=True) / count
            xc = x - mean
            var = (xc * xc * valid).sum(dim=-1, keepdim=True) / count
        y = xc * torch.rsqrt(var + self.eps)
        return y * self.weight[:, None] + self.bias[:, None]
