"""wav2vec 2.0 pretraining (Baevski et al. 2020): contrastive prediction of quantized conv features at
masked frames. Runs alone or under ``torchrun`` (``edge-ssl pretrain wav2vec2 -c wav2vec2/tiny``).

    manifest -> duration-bucketed batches -> Wav2Vec2Pretrainer (encoder + Gumbel quantizer) -> fit
      -> out_dir/model.safetensors (the encoder, kind speech_encoder) + metrics.jsonl + loss.png
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from edge_ssl.methods.wav2vec2 import Wav2Vec2Objective, Wav2Vec2Pretrainer
from edge_ssl.models.speech_encoder import EncoderConfig, base
from edge_ssl.recipes.runner import AudioDataConfig, build_audio_data
from edge_ssl.recipes.speech_pretraining import ddp_settings, finish
from edge_ssl.training.distributed import DistInfo
from edge_ssl.training.loop import TrainConfig, fit
from edge_ssl.training.optim import OptimConfig


@dataclass
class Config:
    out_dir: str = "runs/wav2vec2_base"   # model.safetensors, metrics.jsonl, loss.png, checkpoint.pt
    data: AudioDataConfig = field(default_factory=AudioDataConfig)        # 1.4M samples per GPU
    encoder: EncoderConfig = field(default_factory=base)                  # 12 x 768 BASE
    objective: Wav2Vec2Objective = field(default_factory=Wav2Vec2Objective)
    optim: OptimConfig = field(default_factory=lambda: OptimConfig(lr=5e-4, warmup=32_000, schedule="linear"))
    train: TrainConfig = field(default_factory=lambda: TrainConfig(max_steps=400_000, clip_norm=0.0))


def train(cfg: Config, info: DistInfo) -> Path:
    module = Wav2Vec2Pretrainer(cfg.encoder, cfg.objective, seed=cfg.train.seed)
    dataset, sampler, collate = build_audio_data(cfg.data, info, cfg.train.seed)
    fit(module, dataset, sampler, collate, cfg.optim, ddp_settings(cfg.train, cfg.encoder), cfg.out_dir, info)
    return finish(module.encoder, cfg.encoder, cfg.out_dir, info, "wav2vec2",
                  ("loss", "contrastive", "accuracy", "prob_perplexity"))
