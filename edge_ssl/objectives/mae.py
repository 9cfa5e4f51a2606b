"""MAE reconstruction loss (He et al. 2022): MSE on the masked patches only, against per-patch
normalised pixels by default (``norm_pix_loss``, which the paper finds gives better representations)."""
from __future__ import annotations

import torch


def normalize_patches(patches: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """(B, L, P) -> (B, L, P): each patch to zero mean, unit variance (unbiased var, as the reference)."""
    mean = patches.mean(dim=-1, keepdim=True)
    var = patches.var(dim=-1, keepdim=True)
    return (patches - mean) / (var + eps) ** 0.5


def mae_loss(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor, norm_pix: bool = True) -> torch.Tensor:
    """pred, target: (B, L, P) patches (target = ``patchify(images)``); mask: (B, L), 1 = masked (scored),
    0 = visible (ignored). Returns the mean over masked patches of the per-patch mean squared error."""
    if norm_pix:
        target = normalize_patches(target)
    per_patch = ((pred - target) ** 2).mean(dim=-1)  # (B, L)
    return (per_patch * mask).sum() / mask.sum().clamp_min(1.0)
