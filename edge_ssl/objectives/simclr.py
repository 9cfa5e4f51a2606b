"""SimCLR's contrastive loss, NT-Xent (Chen et al. 2020, Eq. 1): InfoNCE over the 2N views of a batch.

Each view's positive is the other view of its image; the 2(N - 1) views of the other images are its
negatives. Similarities are cosines divided by a temperature; the loss is the mean over all 2N views.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F


def nt_xent(z1: torch.Tensor, z2: torch.Tensor, temperature: float) -> tuple[torch.Tensor, torch.Tensor]:
    """z1, z2: (N, P) projections of the two views (row i of each from image i) -> (loss, accuracy): the
    NT-Xent loss (scalar) and the share of views whose most similar other view is their positive (detached)."""
    if z1.shape != z2.shape or z1.ndim != 2:
        raise ValueError(f"expected two (N, P) projections of equal shape, got {tuple(z1.shape)}, {tuple(z2.shape)}")
    n = z1.shape[0]
    z = F.normalize(torch.cat([z1, z2]).float(), dim=1)  # (2N, P)
    logits = z @ z.T / temperature  # (2N, 2N)
    self_mask = torch.eye(2 * n, dtype=torch.bool, device=z.device)
    logits = logits.masked_fill(self_mask, float("-inf"))  # k != i in the denominator
    positive = torch.cat([torch.arange(n, 2 * n), torch.arange(0, n)]).to(z.device)  # (2N,) index of the pair
    loss = F.cross_entropy(logits, positive)
    accuracy = (logits.detach().argmax(dim=1) == positive).float().mean()
    return loss, accuracy
