"""MAE pretraining of a ViT (He et al. 2022, facebookresearch/mae ``main_pretrain.py``).

Recipe: random 75% of patches removed, encoder on the visible rest, light decoder, MSE on removed patches
against per-patch normalised pixels. AdamW (0.9, 0.95), weight decay 0.05 (not on biases/norms/tokens),
``lr = blr * effective_batch / 256``, linear warmup then cosine decay. Run alone or under torchrun:

    edge-ssl pretrain mae -c mae/tiny
    torchrun --nproc_per_node 2 -m edge_ssl pretrain mae -c mae/tiny

Outputs in ``out_dir``: ``checkpoint.pt`` (resumable), ``metrics.jsonl``, ``loss.png``, ``mae.safetensors``
(whole model), ``encoder.safetensors`` (the ViT alone: what embed/export take) and, for the builtin data,
``knn.json`` (k-NN accuracy on the held-out digits).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from edge_ssl.methods.mae import MAEConfig, MaskedAutoencoder
from edge_ssl.recipes.image_pretraining import check_image_data, scale_lr, write_knn
from edge_ssl.training.distributed import DistInfo
from edge_ssl.training.loop import TrainConfig, fit, plot_metrics
from edge_ssl.training.optim import OptimConfig
from edge_ssl.vision.dataset import ImageDataConfig, build_image_data
from edge_ssl.vision.model_io import save_mae, save_vit

log = logging.getLogger(__name__)


def _mae_optim() -> OptimConfig:
    return OptimConfig(lr=0.0, betas=(0.9, 0.95), eps=1e-8, weight_decay=0.05, schedule="cosine", warmup=0.05,
                       final_lr_scale=0.0)


@dataclass
class Config:
    out_dir: str = "runs/mae"                                          # checkpoints, metrics, model files
    data: ImageDataConfig = field(default_factory=ImageDataConfig)     # images and batch size
    model: MAEConfig = field(default_factory=MAEConfig)                # encoder, decoder, mask ratio, loss
    blr: float = 1.5e-4          # base lr: optim.lr = blr * effective batch / 256 (MAE); 0 keeps optim.lr
    optim: OptimConfig = field(default_factory=_mae_optim)             # AdamW, cosine (lr derived from blr)
    train: TrainConfig = field(default_factory=TrainConfig)            # steps, accumulation, checkpoints
    eval_knn: bool = True        # builtin data: k-NN accuracy on the held-out digits after training

    def validate(self) -> None:
        check_image_data(self.data, self.model.encoder)


def train(cfg: Config, info: DistInfo) -> Path:
    out = Path(cfg.out_dir)
    model = MaskedAutoencoder(cfg.model)
    dataset, sampler, collate = build_image_data(cfg.data, info, cfg.train.seed)

    scale_lr(cfg.blr, cfg.optim, cfg.data, cfg.train, info)
    if info.is_main:
        log.info("MAE: %.2fM parameters (encoder %.2fM), %d patches, %.0f%% masked",
                 sum(p.numel() for p in model.parameters()) / 1e6,
                 sum(p.numel() for p in model.encoder.parameters()) / 1e6,
                 cfg.model.encoder.num_patches, 100 * cfg.model.mask_ratio)

    fit(model, dataset, sampler, collate, cfg.optim, cfg.train, out, info)

    if info.is_main:
        model = model.cpu().eval()
        save_mae(model, out / "mae.safetensors", lr=cfg.optim.lr, steps=cfg.train.max_steps)
        save_vit(model.encoder, out / "encoder.safetensors")
        plot_metrics(out / "metrics.jsonl", out / "loss.png", ("loss", "lr"))
        if cfg.eval_knn:
            write_knn(model.encoder, cfg.data, out)
        log.info("MAE written to %s (encoder: %s)", out / "mae.safetensors", out / "encoder.safetensors")
    return out
