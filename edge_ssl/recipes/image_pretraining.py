"""What the image pretraining recipes (MAE, SimCLR) share: the data/encoder agreement, the learning rate
derived from the batch (``lr = blr * effective_batch / 256``, MAE and MoCo v3), and the k-NN report."""
from __future__ import annotations

import json
import logging
from pathlib import Path

from torch import nn

from edge_ssl.atomic import atomic_write_text
from edge_ssl.models.vit import ViTConfig
from edge_ssl.training.distributed import DistInfo
from edge_ssl.training.loop import TrainConfig
from edge_ssl.training.optim import OptimConfig
from edge_ssl.vision.dataset import ImageDataConfig

log = logging.getLogger(__name__)


def check_image_data(data: ImageDataConfig, encoder: ViTConfig) -> None:
    """The images must be what the encoder takes: same size, same channels."""
    if data.image_size != encoder.image_size:
        raise ValueError(f"data.image_size ({data.image_size}) must equal model.encoder.image_size "
                         f"({encoder.image_size})")
    if data.channels != encoder.in_chans:
        raise ValueError(f"data.channels ({data.channels}) must equal model.encoder.in_chans ({encoder.in_chans})")


def scale_lr(blr: float, optim: OptimConfig, data: ImageDataConfig, train: TrainConfig, info: DistInfo) -> None:
    """Set ``optim.lr = blr * effective batch / 256`` (printed, as MAE's main_pretrain does); blr 0 keeps optim.lr."""
    effective_batch = data.batch_size * train.grad_accum * info.world_size
    if blr > 0:
        optim.lr = blr * effective_batch / 256
    if info.is_main:
        log.info("lr = blr %.3g x effective batch %d / 256 = %.3g", blr, effective_batch, optim.lr)


def write_knn(encoder: nn.Module, data: ImageDataConfig, out: Path) -> None:
    """For the builtin data: k-NN accuracy of ``encoder`` on the held-out digits -> ``out/knn.json``."""
    if data.source != "builtin":
        return
    from edge_ssl.vision.evaluate import evaluate_digits

    scores = evaluate_digits(encoder, channels=data.channels, probe=False)
    atomic_write_text(out / "knn.json", json.dumps(scores, indent=2) + "\n")
    log.info("k-NN accuracy on held-out digits: %.4f", scores["knn_top1"])
