"""What every recipe shares: the audio data section of its config, and run set-up.

A recipe module defines a config dataclass (with ``out_dir``, ``data``, ``optim``, ``train`` sections) and
``train(cfg, info) -> Path``. ``run_recipe`` resolves the config (schema <- YAML <- overrides), checks it
against the one a checkpoint to resume was trained with, joins torchrun's process group if launched by it,
seeds, calls ``train``, and writes the resolved config beside the outputs when training starts. Recipes
therefore run the same alone and under ``torchrun``.
"""
from __future__ import annotations

import copy
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, TypeVar

import yaml

from edge_ssl.config import ConfigError, config_changes, load_config, save_config, to_dict
from edge_ssl.training.distributed import DistInfo, init_distributed, shutdown
from edge_ssl.training.loop import CHECKPOINT, seed_everything, when_training_starts

log = logging.getLogger(__name__)

C = TypeVar("C")

# The recipe configs ship inside the package (package data), so ``-c ctc/tiny`` works from an installed wheel.
CONFIG_ROOT = Path(__file__).resolve().parent / "configs"


@dataclass
class AudioDataConfig:
    train_manifest: str = "data/synth/train.jsonl"   # JSONL manifest (edge-ssl prepare ...)
    valid_manifest: str = ""                         # optional, for validation metrics
    max_batch_samples: int = 1_400_000               # samples per batch per GPU (fairseq max_tokens; 87.5 s)
    max_batch_size: int = 0                          # cap on utterances per batch; 0 = no cap
    max_sample_size: int = 250_000                   # random crop longer utterances (fairseq: 250k = 15.6 s)
    min_sample_size: int = 400                       # shorter files are skipped (conv receptive field)
    lowpass_prob: float = 0.0                        # low-pass this fraction of training utterances at a
    lowpass_hz: tuple[float, float] = (4000.0, 5500.0)  # random cutoff in this range (TTS meets 11 kHz audio)


def build_audio_data(cfg: AudioDataConfig, info: DistInfo, seed: int, manifest: str | None = None,
                     crop: str = "random", crop_multiple: int = 1):
    """(dataset, sampler, collate) over a manifest, sharded over ranks, bucketed by duration.
    ``crop_multiple``: random crops start on a multiple of it (a frame hop, so cached frame targets align)."""
    from edge_ssl.data.dataset import AudioDataset, collate
    from edge_ssl.data.manifest import check_audio, read_manifest
    from edge_ssl.data.sampler import BucketBatchSampler

    utts = check_audio(read_manifest(manifest or cfg.train_manifest))  # lengths checked, bad files skipped
    kept = [u for u in utts if u.num_samples >= cfg.min_sample_size]
    if len(kept) < len(utts):
        log.info("skipping %d utterances shorter than %d samples", len(utts) - len(kept), cfg.min_sample_size)
    dataset = AudioDataset(kept, max_samples=cfg.max_sample_size or None, crop=crop, seed=seed,
                           crop_multiple=crop_multiple, lowpass=(cfg.lowpass_prob, *map(float, cfg.lowpass_hz)))
    lengths = [min(u.num_samples, cfg.max_sample_size or u.num_samples) for u in kept]
    sampler = BucketBatchSampler(lengths, cfg.max_batch_samples, cfg.max_batch_size or None, shuffle=True,
                                 seed=seed, num_replicas=info.world_size, rank=info.rank)
    return dataset, sampler, collate


def resolve_config_path(config: str | None) -> Path | None:
    """A path, or a name under edge_ssl/recipes/configs (``hubert/tiny`` -> edge_ssl/recipes/configs/hubert/tiny.yaml)."""
    if config is None:
        return None
    p = Path(config)
    if p.is_file():
        return p
    named = CONFIG_ROOT / (config if config.endswith(".yaml") else f"{config}.yaml")
    if named.is_file():
        return named
    family = CONFIG_ROOT / Path(config).parent
    near = sorted(f"{q.parent.name}/{q.stem}" for q in family.glob("*.yaml")) if family != CONFIG_ROOT else []
    known = near or sorted(d.name + "/" for d in CONFIG_ROOT.iterdir() if d.is_dir())
    raise ConfigError(f"config not found: {config} (neither a file nor a name under {CONFIG_ROOT}; "
                      f"names there: {', '.join(known)})")


# Keys a resume may change without train.allow_config_change: they do not touch what is computed.
RESUMABLE_CHANGES = ("train.log_every", "train.save_every", "train.num_workers", "train.allow_config_change")


def with_added_keys(saved, defaults):
    """``saved`` (a config dict) plus the schema's ``defaults`` for the keys it lacks: a field added to edge-ssl
    since the run started (e.g. ``encoder.normalize``) is not a change when the new run keeps its default."""
    if not (isinstance(saved, dict) and isinstance(defaults, dict)):
        return saved
    return {**{k: v for k, v in defaults.items() if k not in saved},
            **{k: with_added_keys(v, defaults.get(k)) for k, v in saved.items()}}


def check_resume_config(cfg, out: Path) -> None:
    """Resuming ``out/checkpoint.pt`` with a config that differs from the one it was trained with is refused,
    listing the changed keys, unless ``train.allow_config_change`` (then the new values apply from there on)."""
    saved, ckpt = out / "config.yaml", out / CHECKPOINT
    if not (ckpt.exists() and saved.is_file()):
        return
    try:
        old = yaml.safe_load(saved.read_text()) or {}
    except yaml.YAMLError as e:
        raise ConfigError(f"{saved}: not valid YAML ({e}); it records the config {ckpt} was trained with") from None
    old = with_added_keys(old, to_dict(type(cfg)()))
    changes = [c for c in config_changes(old, to_dict(cfg)) if c.split(":")[0] not in RESUMABLE_CHANGES]
    if not changes:
        return
    if not cfg.train.allow_config_change:
        raise ConfigError(f"{ckpt} was trained with {saved}; this run changes {len(changes)} key(s): "
                          + "; ".join(changes) + ". Resume with the same config, use a new out_dir, or pass "
                          "train.allow_config_change=true to resume with the new values")
    log.warning("resuming %s with a changed config (train.allow_config_change): %s", ckpt, "; ".join(changes))


def run_recipe(schema: type[C], train: Callable[[C, DistInfo], Path], config: str | None,
               overrides: list[str], device: str = "auto") -> Path:
    """Resolve the config, refuse a changed config on resume, then train. ``config.yaml`` is (re)written only
    once training starts, so a run that fails while setting up leaves the previous run's record alone."""
    cfg = load_config(schema, resolve_config_path(config), overrides)
    out = Path(cfg.out_dir)
    check_resume_config(cfg, out)
    resolved = copy.deepcopy(cfg)  # as resolved: a recipe may derive values in place (MAE's lr from blr)

    def write_config() -> None:
        if info.is_main:
            save_config(resolved, out / "config.yaml")
            log.info("resolved config written to %s", out / "config.yaml")

    info = init_distributed(getattr(getattr(cfg, "train", None), "device", device))
    try:
        seed_everything(cfg.train.seed)
        with when_training_starts(write_config):
            return train(cfg, info)
    finally:
        shutdown(info)
