"""SimCLR (Chen et al. 2020) with a ViT encoder: two augmented views of each image, a projection head,
NT-Xent between the views.

``forward`` reads as the method: ``encode`` both views with the shared ViT (its pooled feature, the
representation h that is kept and exported) -> ``project`` (an MLP head g(h), thrown away after
pretraining) -> ``nt_xent`` (InfoNCE with temperature). The ViT is the same ``ViT`` MAE trains, so its
encoder file exports, embeds and benches through the same paths.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

from edge_ssl.models.vit import ViT, ViTConfig, weight_decay_groups
from edge_ssl.objectives.simclr import nt_xent


@dataclass
class SimCLRConfig:
    encoder: ViTConfig = field(default_factory=ViTConfig)  # ViT-B/16 by default
    proj_hidden: int = 2048          # hidden width of the head (SimCLR: 2048, ResNet-50's feature width)
    proj_dim: int = 128              # output of the head, where the loss lives (SimCLR: 128)
    temperature: float = 0.1         # NT-Xent tau (SimCLR ImageNet: 0.1, Table 5; CIFAR-10: 0.5, App. B.9)
    freeze_patch_embed: bool = False  # MoCo v3's ViT trick: a fixed random patch projection trains stabler

    def validate(self) -> None:
        if self.temperature <= 0:
            raise ValueError(f"temperature must be > 0, got {self.temperature}")
        if self.proj_hidden < 1 or self.proj_dim < 1:
            raise ValueError(f"proj_hidden and proj_dim must be positive, got {self.proj_hidden}, {self.proj_dim}")
        self.encoder.validate()


def projection_head(dim: int, hidden: int, out: int) -> nn.Sequential:
    """g(h): the 2-layer MLP of SimCLR (Sec. 2.1: Linear-ReLU-Linear), with BatchNorm after the hidden
    layer as in the authors' code. (N, dim) -> (N, out)."""
    return nn.Sequential(nn.Linear(dim, hidden), nn.BatchNorm1d(hidden), nn.ReLU(inplace=True),
                         nn.Linear(hidden, out))


class SimCLR(nn.Module):
    def __init__(self, cfg: SimCLRConfig):
        super().__init__()
        cfg.validate()
        self.cfg = cfg
        self.encoder = ViT(cfg.encoder)
        self.projector = projection_head(cfg.encoder.embed_dim, cfg.proj_hidden, cfg.proj_dim)
        if cfg.freeze_patch_embed:
            self.encoder.patch_embed.requires_grad_(False)

    def param_groups(self) -> list[dict]:
        return weight_decay_groups(self)

    def encode(self, views: torch.Tensor) -> torch.Tensor:
        """views (B, 2, C, S, S) -> representations (2B, D): all first views, then all second views."""
        if views.ndim != 5 or views.shape[1] != 2:
            raise ValueError(f"SimCLR needs two views per image, (B, 2, C, S, S); got {tuple(views.shape)} "
                             "(set data.views=2)")
        x = views.transpose(0, 1).flatten(0, 1)  # (2B, C, S, S)
        return self.encoder.features(x)  # (2B, D)

    def project(self, h: torch.Tensor) -> torch.Tensor:
        return self.projector(h)  # (2B, D) -> (2B, P)

    def forward(self, batch: dict) -> tuple[torch.Tensor, dict[str, float]]:
        """The training step ``fit`` calls: batch["images"] (B, 2, C, S, S) -> (loss, logs)."""
        z = self.project(self.encode(batch["images"]))  # (2B, P)
        z1, z2 = z.chunk(2)  # (B, P) each: row i of both is image i
        loss, accuracy = nt_xent(z1, z2, self.cfg.temperature)
        return loss, {"pair_acc": float(accuracy)}
