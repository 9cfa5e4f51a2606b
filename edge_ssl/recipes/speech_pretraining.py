"""What the three speech pretraining recipes (wav2vec 2.0, HuBERT, data2vec) share after ``fit``."""
from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

from edge_ssl.models.speech_encoder import EncoderConfig
from edge_ssl.training.distributed import DistInfo, barrier
from edge_ssl.training.loop import METRICS, TrainConfig, plot_metrics

log = logging.getLogger(__name__)

MODEL_FILE = "model.safetensors"


def ddp_settings(train: TrainConfig, encoder: EncoderConfig) -> TrainConfig:
    """LayerDrop skips layers at random, so DDP must look for unused parameters (derived, logged)."""
    if encoder.layerdrop > 0 and not train.find_unused_parameters:
        log.info("encoder.layerdrop=%g > 0: setting train.find_unused_parameters=true", encoder.layerdrop)
        return dataclasses.replace(train, find_unused_parameters=True)
    return train


def finish(encoder, encoder_cfg: EncoderConfig, out_dir: str | Path, info: DistInfo, method: str,
           plot_keys: tuple[str, ...]) -> Path:
    """Rank 0 saves the pretrained encoder (a ``speech_encoder`` model file) and the loss PNG."""
    from edge_ssl.models.store import save_model

    out = Path(out_dir)
    path = out / MODEL_FILE
    if info.is_main:
        save_model(encoder, path, "speech_encoder", encoder_cfg, pretrained_with=method)
        plot_metrics(out / METRICS, out / "loss.png", plot_keys)
        log.info("saved %s and %s", path, out / "loss.png")
    barrier(info)
    return path
