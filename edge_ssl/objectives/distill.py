"""DistilHuBERT's layer-prediction loss: for each target teacher layer, L1 plus λ·(−log σ(cos)), averaged
over the heads (s3prl ``distiller``: loss_type l1, cosine_loss 1.0). Padded frames do not count."""
from __future__ import annotations

import torch
import torch.nn.functional as F


def distill_loss(pred: torch.Tensor, target: torch.Tensor, pad_mask: torch.Tensor | None = None,
                 cos_weight: float = 1.0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """pred, target: (B, N, T, D); pad_mask: (B, T) bool, True at padding, or None.

    Returns (loss scalar, per-head L1 (N,), per-head mean cosine similarity (N,), detached).
    """
    if pred.shape != target.shape:
        raise ValueError(f"prediction {tuple(pred.shape)} and target {tuple(target.shape)} differ")
    pred, target = pred.float(), target.float()
    B, N, T, _ = pred.shape
    keep = torch.ones(B, T, device=pred.device) if pad_mask is None else pad_mask.logical_not().float()
    w = (keep / keep.sum().clamp(min=1))[:, None, :]                        # (B, 1, T): mean over real frames
    l1 = ((pred - target).abs().mean(-1) * w).sum((0, 2))                  # (N,)
    cos = F.cosine_similarity(pred, target, dim=-1)                         # (B, N, T)
    cos_term = (-F.logsigmoid(cos) * w).sum((0, 2))                         # (N,)
    loss = (l1 + cos_weight * cos_term).mean()
    return loss, l1.detach(), (cos * w).sum((0, 2)).detach()
