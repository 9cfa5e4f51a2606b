"""Masked autoencoder (MAE, He et al. 2022) around the ViT encoder.

``forward`` reads as the paper: random_masking -> forward_encoder (visible patches only) ->
forward_decoder (mask tokens fill the removed places; a light transformer predicts pixels) ->
forward_loss (MSE on masked patches, per-patch normalised targets). Masks use **0 = keep, 1 = remove**.
The encoder is a plain ``ViT``; after pretraining ``model.encoder`` is the part that is kept and exported.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

from edge_ssl.models.norm import LayerNorm
from edge_ssl.models.vit import (ViT, ViTConfig, init_mae_weights, sincos_pos_embed, transformer_stack, vit_config,
                                 weight_decay_groups)
from edge_ssl.objectives.mae import mae_loss
from edge_ssl.vision.patches import patchify, random_masking


@dataclass
class MAEConfig:
    encoder: ViTConfig = field(default_factory=ViTConfig)  # ViT-B/16 by default
    decoder_dim: int = 512        # paper: 512 wide, 8 deep, 16 heads for every encoder size
    decoder_depth: int = 8
    decoder_heads: int = 16
    mask_ratio: float = 0.75      # share of patches removed; the paper's best is 75%
    norm_pix_loss: bool = True    # targets normalised per patch (better features, paper Table 1d)

    def validate(self) -> None:
        if not 0.0 < self.mask_ratio < 1.0:
            raise ValueError(f"mask_ratio must be in (0, 1), got {self.mask_ratio}")
        if self.decoder_dim % self.decoder_heads:
            raise ValueError(f"decoder_dim ({self.decoder_dim}) must be divisible by decoder_heads "
                             f"({self.decoder_heads})")
        self.encoder.validate()


class MaskedAutoencoder(nn.Module):
    def __init__(self, cfg: MAEConfig):
        super().__init__()
        cfg.validate()
        self.cfg = cfg
        enc = cfg.encoder
        self.encoder = ViT(enc)
        Dd = cfg.decoder_dim
        self.decoder_embed = nn.Linear(enc.embed_dim, Dd)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, Dd))
        self.decoder_blocks = transformer_stack(Dd, cfg.decoder_depth, cfg.decoder_heads, enc.mlp_ratio,
                                                enc.layer_norm_eps)
        self.decoder_norm = LayerNorm(Dd, enc.layer_norm_eps)
        self.decoder_pred = nn.Linear(Dd, enc.patch_size ** 2 * enc.in_chans)  # pixels of one patch
        self.register_buffer("decoder_pos_embed", sincos_pos_embed(Dd, enc.grid), persistent=False)
        for part in (self.decoder_embed, self.decoder_blocks, self.decoder_pred):
            part.apply(init_mae_weights)
        nn.init.normal_(self.mask_token, std=0.02)

    def param_groups(self) -> list[dict]:
        """Weight decay on matrices only: biases, norms, cls and mask tokens get none (MAE/timm)."""
        return weight_decay_groups(self)

    def random_masking(self, x: torch.Tensor, mask_ratio: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """x: (B, L, D) -> visible (B, K, D), mask (B, L) with 0 = keep, 1 = remove, ids_restore (B, L)."""
        return random_masking(x, mask_ratio)

    def forward_encoder(self, imgs: torch.Tensor, mask_ratio: float
                        ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """imgs (B, C, H, W) -> latent (B, 1 + K, D) of the visible patches, mask (B, L), ids_restore (B, L)."""
        x = self.encoder.embed_patches(imgs)  # (B, L, D), positions added before masking
        x, mask, ids_restore = self.random_masking(x, mask_ratio)  # (B, K, D)
        return self.encoder.forward_tokens(x), mask, ids_restore

    def forward_decoder(self, latent: torch.Tensor, ids_restore: torch.Tensor) -> torch.Tensor:
        """latent (B, 1 + K, D) -> predicted pixels (B, L, p*p*C) for every patch, in the original order."""
        x = self.decoder_embed(latent)  # (B, 1 + K, Dd)
        B, L = ids_restore.shape
        mask_tokens = self.mask_token.expand(B, L + 1 - x.shape[1], -1)  # one per removed patch
        x_ = torch.cat([x[:, 1:], mask_tokens], dim=1)  # (B, L, Dd): visible then removed, shuffled order
        x_ = torch.gather(x_, 1, ids_restore.unsqueeze(-1).expand(-1, -1, x.shape[2]))  # unshuffle
        x = torch.cat([x[:, :1], x_], dim=1) + self.decoder_pos_embed  # (B, 1 + L, Dd)
        for block in self.decoder_blocks:
            x, _ = block(x)
        x = self.decoder_pred(self.decoder_norm(x))  # (B, 1 + L, p*p*C)
        return x[:, 1:]  # drop the cls position

    def forward_loss(self, imgs: torch.Tensor, pred: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """imgs (B, C, H, W), pred (B, L, p*p*C), mask (B, L) 1 = removed -> MSE over removed patches."""
        target = patchify(imgs, self.cfg.encoder.patch_size)
        return mae_loss(pred, target, mask, self.cfg.norm_pix_loss)

    def forward(self, batch: dict) -> tuple[torch.Tensor, dict[str, float]]:
        """The training step ``fit`` calls: batch["images"] (B, C, H, W) -> (loss, logs)."""
        imgs = batch["images"]
        latent, mask, ids_restore = self.forward_encoder(imgs, self.cfg.mask_ratio)
        pred = self.forward_decoder(latent, ids_restore)
        loss = self.forward_loss(imgs, pred, mask)
        return loss, {"visible_patches": float(latent.shape[1] - 1)}

    @torch.no_grad()
    def reconstruct(self, imgs: torch.Tensor, mask_ratio: float | None = None
                    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """For pictures: (loss, pred (B, L, P) in target space, mask (B, L)) with one random masking."""
        ratio = self.cfg.mask_ratio if mask_ratio is None else mask_ratio
        latent, mask, ids_restore = self.forward_encoder(imgs, ratio)
        pred = self.forward_decoder(latent, ids_restore)
        return self.forward_loss(imgs, pred, mask), pred, mask


def mae_config(size: str, image_size: int, patch_size: int, decoder_dim: int, decoder_depth: int,
               decoder_heads: int, **kw) -> MAEConfig:
    return MAEConfig(encoder=vit_config(size, image_size, patch_size), decoder_dim=decoder_dim,
                     decoder_depth=decoder_depth, decoder_heads=decoder_heads, **kw)


def mae_vit_base_patch16_dec512d8b(**kw) -> MaskedAutoencoder:
    return MaskedAutoencoder(mae_config("base", 224, 16, 512, 8, 16, **kw))
