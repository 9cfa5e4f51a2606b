"""Images <-> patch sequences, and MAE's per-sample random masking.

Patch order is row-major over the (H/p, W/p) grid and each patch flattens as (p, p, C), as in
facebookresearch/mae, so ``unpatchify(patchify(x)) == x``.
"""
from __future__ import annotations

import torch


def patchify(imgs: torch.Tensor, p: int) -> torch.Tensor:
    """(B, C, H, W) -> (B, L, p*p*C) with L = (H/p) * (W/p)."""
    B, C, H, W = imgs.shape
    if H % p or W % p:
        raise ValueError(f"image size {H}x{W} is not divisible by patch size {p}")
    h, w = H // p, W // p
    x = imgs.reshape(B, C, h, p, w, p)
    x = torch.einsum("nchpwq->nhwpqc", x)  # (B, h, w, p, p, C)
    return x.reshape(B, h * w, p * p * C)


def unpatchify(x: torch.Tensor, p: int, channels: int, grid: tuple[int, int] | None = None) -> torch.Tensor:
    """(B, L, p*p*C) -> (B, C, H, W); ``grid`` = (h, w) patches, square if omitted."""
    B, L, _ = x.shape
    if grid is None:
        h = w = int(round(L ** 0.5))
    else:
        h, w = grid
    if h * w != L:
        raise ValueError(f"{L} patches do not form a {h}x{w} grid")
    x = x.reshape(B, h, w, p, p, channels)
    x = torch.einsum("nhwpqc->nchpwq", x)  # (B, C, h, p, w, p)
    return x.reshape(B, channels, h * p, w * p)


def random_masking(x: torch.Tensor, mask_ratio: float, generator: torch.Generator | None = None
                   ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Keep a random ``1 - mask_ratio`` share of each sample's tokens (shuffle by argsort of noise).

    x: (B, L, D). Returns
      - ``x_visible`` (B, K, D), K = int(L * (1 - mask_ratio)): the kept tokens, in shuffled order;
      - ``mask`` (B, L) float: **0 is keep, 1 is remove**, in the original token order;
      - ``ids_restore`` (B, L) long: gathering the [visible, mask tokens] sequence with it restores order.
    """
    B, L, D = x.shape
    keep = int(L * (1 - mask_ratio))
    if not 0 < keep <= L:
        raise ValueError(f"mask_ratio {mask_ratio} leaves {keep} of {L} patches visible")
    noise = torch.rand(B, L, device=x.device, generator=generator)  # (B, L) in [0, 1)
    ids_shuffle = torch.argsort(noise, dim=1)  # ascending: small noise is kept
    ids_restore = torch.argsort(ids_shuffle, dim=1)
    ids_keep = ids_shuffle[:, :keep]  # (B, K)
    x_visible = torch.gather(x, 1, ids_keep.unsqueeze(-1).expand(-1, -1, D))
    mask = torch.ones(B, L, device=x.device, dtype=x.dtype)
    mask[:, :keep] = 0
    mask = torch.gather(mask, 1, ids_restore)
    return x_visible, mask, ids_restore
