"""Vision Transformer encoder (ViT), written to export well, from the shared transformer layers.

    images (B, C, H, W) -> patch_embed (conv, stride p) -> (B, L, D) + fixed 2-D sin-cos positions
                        -> [keep visible patches (MAE)] -> [cls] + tokens -> pre-LN layers -> LayerNorm

The layers are ``edge_ssl.models.transformer.TransformerLayer`` with ``layer_norm_first=True`` (ViT is
pre-LN), so the export-friendly attention (explicit ``softmax(q @ k^T) @ v`` at batch 1) and
``edge_ssl.models.norm.LayerNorm`` come for free. Size builders follow DeiT/ViT: tiny (192 wide, 3 heads),
small (384, 6), base (768, 12), large (1024, 16).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn

from edge_ssl.models.norm import LayerNorm
from edge_ssl.models.transformer import TransformerLayer


@dataclass
class ViTConfig:
    image_size: int = 224        # square input side in pixels
    patch_size: int = 16         # 16 for 224 px; small images use small patches (32 px -> 4)
    in_chans: int = 3            # grayscale inputs are replicated to 3 channels by the data pipeline
    embed_dim: int = 768
    depth: int = 12
    num_heads: int = 12
    mlp_ratio: float = 4.0       # FFN width = mlp_ratio * embed_dim
    layer_norm_eps: float = 1e-6  # timm/MAE use 1e-6
    pool: Literal["mean", "cls"] = "mean"  # image feature: mean of patch tokens, or the cls token

    def validate(self) -> None:
        if self.image_size % self.patch_size:
            raise ValueError(f"image_size ({self.image_size}) must be divisible by patch_size ({self.patch_size})")
        if self.embed_dim % self.num_heads:
            raise ValueError(f"embed_dim ({self.embed_dim}) must be divisible by num_heads ({self.num_heads})")
        if self.embed_dim % 4:
            raise ValueError(f"embed_dim ({self.embed_dim}) must be divisible by 4 (2-D sin-cos positions)")

    @property
    def grid(self) -> int:
        return self.image_size // self.patch_size

    @property
    def num_patches(self) -> int:
        return self.grid * self.grid


SIZES = {  # name -> (embed_dim, depth, num_heads)
    "tiny": (192, 12, 3),
    "small": (384, 12, 6),
    "base": (768, 12, 12),
    "large": (1024, 24, 16),
}


def vit_config(size: str, image_size: int = 224, patch_size: int = 16, **overrides) -> ViTConfig:
    """A named size (tiny/small/base/large) at an image and patch size."""
    if size not in SIZES:
        raise ValueError(f"unknown ViT size {size!r}; choose from {', '.join(SIZES)}")
    dim, depth, heads = SIZES[size]
    cfg = ViTConfig(image_size=image_size, patch_size=patch_size, embed_dim=dim, depth=depth, num_heads=heads,
                    **overrides)
    cfg.validate()
    return cfg


def vit_base(image_size: int = 224, patch_size: int = 16, **kw) -> "ViT":
    return ViT(vit_config("base", image_size, patch_size, **kw))


def sincos_pos_embed(dim: int, grid: int, cls_token: bool = True) -> torch.Tensor:
    """Fixed 2-D sin-cos position embedding (MAE): half the channels encode the row, half the column.

    Returns (1, [1 +] grid*grid, dim); the cls position is all zeros.
    """
    omega = 1.0 / 10000 ** (torch.arange(dim // 4, dtype=torch.float64) / (dim / 4.0))  # (D/4,)
    ys, xs = torch.meshgrid(torch.arange(grid, dtype=torch.float64), torch.arange(grid, dtype=torch.float64),
                            indexing="ij")

    def encode(pos: torch.Tensor) -> torch.Tensor:
        out = pos.reshape(-1, 1) * omega[None]  # (L, D/4)
        return torch.cat([out.sin(), out.cos()], dim=1)  # (L, D/2)

    emb = torch.cat([encode(ys), encode(xs)], dim=1)  # (L, D), row-major patch order
    if cls_token:
        emb = torch.cat([torch.zeros(1, dim, dtype=emb.dtype), emb], dim=0)
    return emb.float().unsqueeze(0)


def init_mae_weights(module: nn.Module) -> None:
    """MAE/timm init: xavier-uniform Linear weights, zero biases (LayerNorms start at 1/0 already)."""
    if isinstance(module, nn.Linear):
        nn.init.xavier_uniform_(module.weight)
        if module.bias is not None:
            nn.init.zeros_(module.bias)


def weight_decay_groups(module: nn.Module) -> list[dict]:
    """Optimiser groups with weight decay on matrices only: biases, norms and (1, 1, D) tokens get none
    (MAE/timm, MoCo v3; SimCLR likewise exempts biases and BN). Frozen parameters are left out."""
    decay = [p for p in module.parameters() if p.requires_grad and p.ndim > 1 and p.shape[:2] != (1, 1)]
    ids = {id(p) for p in decay}
    no_decay = [p for p in module.parameters() if p.requires_grad and id(p) not in ids]
    return [{"params": decay}, {"params": no_decay, "weight_decay": 0.0}]


def transformer_stack(dim: int, depth: int, heads: int, mlp_ratio: float, eps: float) -> nn.ModuleList:
    """``depth`` pre-LN layers without dropout (MAE pretrains without dropout)."""
    return nn.ModuleList(
        TransformerLayer(dim, heads, int(dim * mlp_ratio), dropout=0.0, attention_dropout=0.0,
                         activation_dropout=0.0, layer_norm_first=True, eps=eps)
        for _ in range(depth))


class PatchEmbed(nn.Module):
    """Non-overlapping p x p patches -> D-dim tokens. (B, C, H, W) -> (B, L, D)."""

    def __init__(self, cfg: ViTConfig):
        super().__init__()
        self.proj = nn.Conv2d(cfg.in_chans, cfg.embed_dim, cfg.patch_size, stride=cfg.patch_size)
        w = self.proj.weight
        nn.init.xavier_uniform_(w.view(w.shape[0], -1))  # as a Linear over flattened patches (MAE)
        nn.init.zeros_(self.proj.bias)

    def forward(self, imgs: torch.Tensor) -> torch.Tensor:
        x = self.proj(imgs)  # (B, D, h, w)
        return x.flatten(2).transpose(1, 2)  # (B, L, D), row-major like patchify


class ViT(nn.Module):
    def __init__(self, cfg: ViTConfig):
        super().__init__()
        cfg.validate()
        self.cfg = cfg
        D = cfg.embed_dim
        self.patch_embed = PatchEmbed(cfg)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, D))
        self.blocks = transformer_stack(D, cfg.depth, cfg.num_heads, cfg.mlp_ratio, cfg.layer_norm_eps)
        self.norm = LayerNorm(D, cfg.layer_norm_eps)
        # fixed, rebuilt from the config: not a learned weight, so not saved
        self.register_buffer("pos_embed", sincos_pos_embed(D, cfg.grid), persistent=False)  # (1, 1+L, D)
        self.apply(init_mae_weights)  # Linear layers only; PatchEmbed initialises its conv itself
        nn.init.normal_(self.cls_token, std=0.02)

    def embed_patches(self, imgs: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) -> (B, L, D) patch tokens with their positions added (no cls yet)."""
        if imgs.shape[-1] != self.cfg.image_size or imgs.shape[-2] != self.cfg.image_size:
            raise ValueError(f"expected {self.cfg.image_size}x{self.cfg.image_size} images, "
                             f"got {tuple(imgs.shape[-2:])}")
        return self.patch_embed(imgs) + self.pos_embed[:, 1:]

    def prepend_cls(self, x: torch.Tensor) -> torch.Tensor:
        """Patch tokens (B, K, D) -> (B, 1 + K, D) with the cls token (and its position) first."""
        cls = self.cls_token + self.pos_embed[:, :1]  # (1, 1, D)
        return torch.cat([cls.expand(x.shape[0], -1, -1), x], dim=1)

    def forward_tokens(self, x: torch.Tensor) -> torch.Tensor:
        """Patch tokens (B, K, D) (all L, or MAE's visible K) -> (B, 1 + K, D) after the cls and all layers."""
        x = self.prepend_cls(x)
        for block in self.blocks:
            x, _ = block(x)
        return self.norm(x)

    def hidden_states(self, imgs: torch.Tensor) -> list[torch.Tensor]:
        """(B, C, H, W) -> the tokens after each layer, depth x (B, 1 + L, D); the last one after the final
        norm (= ``forward``). For probing which layer holds the best features."""
        x = self.prepend_cls(self.embed_patches(imgs))  # (B, 1 + L, D)
        states = []
        for block in self.blocks:
            x, _ = block(x)
            states.append(x)
        states[-1] = self.norm(x)
        return states

    def forward(self, imgs: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) normalised images -> (B, 1 + L, D) tokens: cls first, then patches row-major."""
        return self.forward_tokens(self.embed_patches(imgs))

    def pool(self, tokens: torch.Tensor) -> torch.Tensor:
        """(B, 1 + L, D) -> (B, D) image feature (``cfg.pool``)."""
        if self.cfg.pool == "cls":
            return tokens[:, 0]
        return tokens[:, 1:].mean(dim=1)

    def features(self, imgs: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) -> (B, D): the embedding used for retrieval, k-NN and probes."""
        return self.pool(self(imgs))
