"""HuBERT pretraining (Hsu et al. 2021): masked prediction of k-means labels. One iteration per run:

    edge-ssl hubert-targets data/synth/train.jsonl --out runs/hubert_km1            (MFCC, 100 Hz)
    edge-ssl pretrain hubert -c hubert/tiny                                          (iteration 1)
    edge-ssl hubert-targets data/synth/train.jsonl --out runs/hubert_km2 \\
        --features runs/hubert_tiny/model.safetensors --layer 3                     (layer features, 50 Hz)
    edge-ssl pretrain hubert -c hubert/tiny_iter2                                    (iteration 2)

    manifest + aligned label file -> batches whose labels are cropped with the audio -> HubertPretrainer
      -> fit -> out_dir/model.safetensors (the encoder) + metrics.jsonl + loss.png
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from edge_ssl.data.manifest import read_manifest
from edge_ssl.methods.hubert import HubertObjective, HubertPretrainer
from edge_ssl.models.speech_encoder import EncoderConfig, base
from edge_ssl.recipes.runner import AudioDataConfig, build_audio_data
from edge_ssl.recipes.speech_pretraining import ddp_settings, finish
from edge_ssl.targets.labels import LabelCollate, LabeledAudioDataset, read_labels
from edge_ssl.training.distributed import DistInfo
from edge_ssl.training.loop import TrainConfig, fit
from edge_ssl.training.optim import OptimConfig


@dataclass
class HubertDataConfig(AudioDataConfig):
    train_labels: str = "runs/hubert_km1/train.km"  # label file aligned with train_manifest (edge-ssl hubert-targets)


@dataclass
class Config:
    out_dir: str = "runs/hubert_base"     # model.safetensors, metrics.jsonl, loss.png, checkpoint.pt
    data: HubertDataConfig = field(default_factory=HubertDataConfig)
    encoder: EncoderConfig = field(default_factory=base)
    objective: HubertObjective = field(default_factory=HubertObjective)
    optim: OptimConfig = field(default_factory=lambda: OptimConfig(lr=5e-4, warmup=32_000, schedule="linear"))
    train: TrainConfig = field(default_factory=lambda: TrainConfig(max_steps=250_000, clip_norm=10.0))


def train(cfg: Config, info: DistInfo) -> Path:
    module = HubertPretrainer(cfg.encoder, cfg.objective, seed=cfg.train.seed)
    dataset, sampler, collate = build_audio_data(cfg.data, info, cfg.train.seed)
    o = cfg.objective
    labels = read_labels(cfg.data.train_labels, read_manifest(cfg.data.train_manifest), o.label_rate, o.num_classes)
    dataset = LabeledAudioDataset(dataset, labels, o.label_rate)
    fit(module, dataset, sampler, LabelCollate(collate), cfg.optim, ddp_settings(cfg.train, cfg.encoder),
        cfg.out_dir, info)
    return finish(module.encoder, cfg.encoder, cfg.out_dir, info, "hubert", ("loss", "ce_masked", "acc_masked"))
