"""Normalisation layers written so the XNNPACK delegate can take them.

``nn.LayerNorm``/``nn.GroupNorm`` lower to ``native_layer_norm``/``native_group_norm``, which XNNPACK
leaves on the CPU fallback and which split the graph into many partitions (shared/STACK.md, pitfall 2).
These compute the same thing from mean/sub/mul/rsqrt. Their parameter names match ``nn.LayerNorm``
(``weight``, ``bias``) so checkpoints stay interchangeable.

XNNPACK takes ``mean.dim`` only as a keepdim mean over dims (2, 3) of a 4-D tensor (global average
pooling), so the inference path views to 4-D, averages over (2, 3) and views back with one inferred (-1)
dim, never a symbolic size.
"""
from __future__ import annotations

import torch
from torch import nn


def _normalize_4d(x4: torch.Tensor, eps: float) -> torch.Tensor:
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
        return _normalize_4d(wave.reshape(B, 1, -1, 1), eps).view(B, -1)
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
        if self.training or x.dim() != 3:  # fused kernel: faster and lighter for backward
            return nn.functional.layer_norm(x, (self.dim,), self.weight, self.bias, self.eps)
        # Rows as (B*T, 1, C, 1): statistics over C; no stride depends on T (else export adds guards).
        y = _normalize_4d(x.reshape(-1, 1, self.dim, 1), self.eps).view(x.shape[0], -1, self.dim)  # (B, T, C)
        if self.weight is not None:
            y = y * self.weight + self.bias
        return y

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
            if not self.training:
                y = _normalize_4d(x.unsqueeze(-1), self.eps)  # (B, C, T, 1), statistics over T
                y = y * self.weight[:, None, None] + self.bias[:, None, None]
                return y.view(x.shape[0], self.dim, -1)  # (B, C, T)
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
