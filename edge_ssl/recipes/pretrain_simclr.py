"""SimCLR pretraining of a ViT (Chen et al. 2020), with the ViT optimiser of MoCo v3 (Chen, Xie, He 2021).

Recipe: two random views of each image (random resized crop, flip, colour distortion, grayscale), the
shared ViT encoder, a 2-layer MLP head to 128-d, NT-Xent over the 2N views. SimCLR's ResNet recipe uses
LARS (lr 0.3 x batch / 256); for a ViT, MoCo v3 trains SimCLR as well as MoCo with AdamW (their ViT
comparison), ``lr = blr * effective_batch / 256`` with blr 1.5e-4, weight decay 0.1, warmup then cosine,
and a frozen random patch projection. Run alone or under torchrun:

    edge-ssl pretrain simclr -c simclr/tiny
    torchrun --nproc_per_node 2 -m edge_ssl pretrain simclr -c simclr/tiny

Outputs in ``out_dir``: ``checkpoint.pt`` (resumable), ``metrics.jsonl``, ``loss.png``,
``encoder.safetensors`` (the ViT alone: what embed/export take; the head is dropped, as in the paper) and,
for the builtin data, ``knn.json`` (k-NN accuracy on the held-out digits). Under DDP each process
contrasts its own batch (negatives are not gathered across processes, unlike the paper's TPU pods).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from edge_ssl.methods.simclr import SimCLR, SimCLRConfig
from edge_ssl.recipes.image_pretraining import check_image_data, scale_lr, write_knn
from edge_ssl.training.distributed import DistInfo
from edge_ssl.training.loop import TrainConfig, fit, plot_metrics
from edge_ssl.training.optim import OptimConfig
from edge_ssl.vision.dataset import ImageDataConfig, build_image_data
from edge_ssl.vision.model_io import save_vit

log = logging.getLogger(__name__)


def _simclr_data() -> ImageDataConfig:
    return ImageDataConfig(views=2, min_scale=0.08, color=1.0, grayscale=0.2)  # SimCLR's ImageNet views


def _simclr_optim() -> OptimConfig:
    return OptimConfig(lr=0.0, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.1, schedule="cosine", warmup=40 / 300,
                       final_lr_scale=0.0)  # MoCo v3 ViT: AdamW, wd 0.1, 40 warmup epochs of 300


@dataclass
class Config:
    out_dir: str = "runs/simclr"                                       # checkpoints, metrics, encoder file
    data: ImageDataConfig = field(default_factory=_simclr_data)        # images, the two views, batch size
    model: SimCLRConfig = field(default_factory=SimCLRConfig)          # encoder, head, temperature
    blr: float = 1.5e-4          # base lr: optim.lr = blr * effective batch / 256 (MoCo v3 ViT); 0 keeps optim.lr
    optim: OptimConfig = field(default_factory=_simclr_optim)          # AdamW, cosine (lr derived from blr)
    train: TrainConfig = field(default_factory=TrainConfig)            # steps, accumulation, checkpoints
    eval_knn: bool = True        # builtin data: k-NN accuracy on the held-out digits after training

    def validate(self) -> None:
        if self.data.views != 2:
            raise ValueError(f"data.views must be 2 for SimCLR (a positive pair per image), got {self.data.views}")
        check_image_data(self.data, self.model.encoder)


def train(cfg: Config, info: DistInfo) -> Path:
    out = Path(cfg.out_dir)
    model = SimCLR(cfg.model)
    dataset, sampler, collate = build_image_data(cfg.data, info, cfg.train.seed)

    scale_lr(cfg.blr, cfg.optim, cfg.data, cfg.train, info)
    if info.is_main:
        log.info("SimCLR: encoder %.2fM parameters, head %.2fM, temperature %g, %d negatives per view",
                 sum(p.numel() for p in model.encoder.parameters()) / 1e6,
                 sum(p.numel() for p in model.projector.parameters()) / 1e6, cfg.model.temperature,
                 2 * cfg.data.batch_size - 2)

    fit(model, dataset, sampler, collate, cfg.optim, cfg.train, out, info)

    if info.is_main:
        model = model.cpu().eval()
        save_vit(model.encoder, out / "encoder.safetensors", lr=cfg.optim.lr, steps=cfg.train.max_steps,
                 method="simclr")
        plot_metrics(out / "metrics.jsonl", out / "loss.png", ("loss", "pair_acc", "lr"))
        if cfg.eval_knn:
            write_knn(model.encoder, cfg.data, out)
        log.info("SimCLR encoder written to %s", out / "encoder.safetensors")
    return out
