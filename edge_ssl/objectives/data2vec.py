"""data2vec (audio) regression objective (Baevski et al. 2022, Sec. 3; fairseq ``data2vec_audio.py``).

Targets: the EMA teacher sees the unmasked input; the FFN outputs (before the residual) of its top K
layers are each instance-normalised over time (fairseq ``instance_norm_target_layer``) and averaged. No
normalisation follows the average: fairseq's ``layer_norm_targets`` / ``instance_norm_targets`` (and the
per-layer ``layer_norm_target_layer``) are off in its audio base config, and not offered here.
The student regresses them at masked frames through a linear head: per frame the squared error (or
smooth-L1 with ``beta`` > 0) summed over channels and scaled by 1/sqrt(C), averaged over masked frames.
"""
from __future__ import annotations

import math
from typing import Sequence

import torch
import torch.nn.functional as F


def ema_decay(step: int, start: float = 0.999, end: float = 0.9999, anneal_steps: int = 30_000) -> float:
    """Update count -> the teacher's EMA decay tau: linear from ``start`` to ``end`` over the first
    ``anneal_steps`` updates, then fixed."""
    if step >= anneal_steps or anneal_steps <= 0:
        return end
    return start + (end - start) * step / anneal_steps


def instance_norm_time(x: torch.Tensor, pad_mask: torch.Tensor | None = None, eps: float = 1e-5) -> torch.Tensor:
    """(B, T, C), pad_mask (B, T) bool True at padding or None -> (B, T, C) fp32, zero mean and unit
    variance over time per utterance and channel.

    Statistics use only real frames (fairseq's F.instance_norm also counts padding)."""
    x = x.float()
    if pad_mask is None:
        keep = torch.ones(x.shape[:2] + (1,), dtype=x.dtype, device=x.device)
    else:
        keep = (~pad_mask).to(x.dtype).unsqueeze(-1)                          # (B, T, 1)
    count = keep.sum(dim=1, keepdim=True).clamp_min(1.0)                       # (B, 1, 1)
    mean = (x * keep).sum(dim=1, keepdim=True) / count
    var = ((x - mean) ** 2 * keep).sum(dim=1, keepdim=True) / count
    return (x - mean) * torch.rsqrt(var + eps)


def teacher_targets(ffn_states: Sequence[torch.Tensor], top_k: int, pad_mask: torch.Tensor | None = None,
                    instance_norm: bool = True) -> torch.Tensor:
    """The average of the top ``top_k`` layers' FFN outputs, each (B, T, C) -> (B, T, C) in fp32.

    pad_mask: (B, T) bool, True at padding (left out of the instance-norm statistics), or None."""
    if not 0 < top_k <= len(ffn_states):
        raise ValueError(f"top_k={top_k} must be in 1..{len(ffn_states)} (the teacher's layer count)")
    layers = [s.float() for s in ffn_states[-top_k:]]
    if instance_norm:
        layers = [instance_norm_time(s, pad_mask) for s in layers]
    return sum(layers) / top_k


def regression_loss(pred: torch.Tensor, target: torch.Tensor, beta: float = 0.0) -> torch.Tensor:
    """pred, target: (N, C) at masked frames -> () mean over frames of sum over C / sqrt(C)."""
    if beta > 0:
        err = F.smooth_l1_loss(pred.float(), target.float(), reduction="none", beta=beta)
    else:
        err = F.mse_loss(pred.float(), target.float(), reduction="none")
    return err.sum(dim=-1).mean() / math.sqrt(pred.shape[-1])
