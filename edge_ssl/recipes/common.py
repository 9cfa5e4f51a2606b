"""What every recipe shares: the audio data section of its config, and run set-up.

A recipe module defines a config dataclass (with ``out_dir``, ``data``, ``optim``, ``train`` sections) and
``train(cfg, info) -> Path``. ``run_recipe`` resolves the config (schema <- YAML <- overrides), joins
torchrun's process group if launched by it, seeds, writes the resolved config beside the outputs, and
calls ``train``. Recipes therefore run the same alone and under ``torchrun``.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, TypeVar

from edge_ssl.config import ConfigError, load_config, save_config
from edge_ssl.training.distributed import DistInfo, barrier, init_distributed, shutdown
from edge_ssl.training.loop import seed_everything

log = logging.getLogger(__name__)

C = TypeVar("C")

CONFIG_ROOT = Path(__file__).resolve().parents[2] / "recipes" / "configs"


@dataclass
class AudioDataConfig:
    train_manifest: str = "data/synth/train.jsonl"   # JSONL manifest (edge-ssl prepare ...)
    valid_manifest: str = ""                         # optional, for validation metrics
    max_batch_samples: int = 1_400_000               # samples per batch per GPU (fairseq max_tokens; 87.5 s)
    max_batch_size: int = 0                          # cap on utterances per batch; 0 = no cap
    max_sample_size: int = 250_000                   # random crop longer utterances (fairseq: 250k = 15.6 s)
    min_sample_size: int = 400                       # shorter files are skipped (conv receptive field)


def build_audio_data(cfg: AudioDataConfig, info: DistInfo, seed: int, manifest: str | None = None,
                     crop: str = "random", crop_multiple: int = 1):
    """(dataset, sampler, collate) over a manifest, sharded over ranks, bucketed by duration.
    ``crop_multiple``: random crops start on a multiple of it (a frame hop, so cached frame targets align)."""
    from edge_ssl.data.dataset import AudioDataset, collate
    from edge_ssl.data.manifest import read_manifest
    from edge_ssl.data.sampler import BucketBatchSampler

    utts = read_manifest(manifest or cfg.train_manifest)
    kept = [u for u in utts if u.num_samples >= cfg.min_sample_size]
    if len(kept) < len(utts):
        log.info("skipping %d utterances shorter than %d samples", len(utts) - len(kept), cfg.min_sample_size)
    dataset = AudioDataset(kept, max_samples=cfg.max_sample_size or None, crop=crop, seed=seed,
                           crop_multiple=crop_multiple)
    lengths = [min(u.num_samples, cfg.max_sample_size or u.num_samples) for u in kept]
    sampler = BucketBatchSampler(lengths, cfg.max_batch_samples, cfg.max_batch_size or None, shuffle=True,
                                 seed=seed, num_replicas=info.world_size, rank=info.rank)
    return dataset, sampler, collate


def resolve_config_path(config: str | None) -> Path | None:
    """A path, or a name under recipes/configs (``hubert/tiny`` -> recipes/configs/hubert/tiny.yaml)."""
    if config is None:
        return None
    p = Path(config)
    if p.is_file():
        return p
    named = CONFIG_ROOT / (config if config.endswith(".yaml") else f"{config}.yaml")
    if named.is_file():
        return named
    raise ConfigError(f"config not found: {config} (neither a file nor a name under {CONFIG_ROOT})")


def run_recipe(schema: type[C], train: Callable[[C, DistInfo], Path], config: str | None,
               overrides: list[str], device: str = "auto") -> Path:
    cfg = load_config(schema, resolve_config_path(config), overrides)
    info = init_distributed(getattr(getattr(cfg, "train", None), "device", device))
    try:
        seed_everything(cfg.train.seed)
        out = Path(cfg.out_dir)
        if info.is_main:
            out.mkdir(parents=True, exist_ok=True)
            save_config(cfg, out / "config.yaml")
            log.info("resolved config written to %s", out / "config.yaml")
        barrier(info)
        return train(cfg, info)
    finally:
        shutdown(info)
