"""data2vec (audio) pretraining (Baevski et al. 2022): regress an EMA teacher's averaged top-K layer
outputs at masked frames. Runs alone or under ``torchrun`` (``edge-ssl pretrain data2vec -c data2vec/tiny``).

    manifest -> batches -> Data2VecPretrainer (student encoder + EMA teacher transformer + head) -> fit
      -> out_dir/model.safetensors (the student encoder) + metrics.jsonl + loss.png
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from edge_ssl.methods.data2vec import Data2VecObjective, Data2VecPretrainer
from edge_ssl.models.speech_encoder import EncoderConfig, data2vec_base
from edge_ssl.recipes.runner import AudioDataConfig, build_audio_data
from edge_ssl.recipes.speech_pretraining import ddp_settings, finish
from edge_ssl.training.distributed import DistInfo
from edge_ssl.training.loop import TrainConfig, fit
from edge_ssl.training.optim import OptimConfig


@dataclass
class Config:
    out_dir: str = "runs/data2vec_base"   # model.safetensors, metrics.jsonl, loss.png, checkpoint.pt
    data: AudioDataConfig = field(default_factory=lambda: AudioDataConfig(max_batch_samples=3_800_000,
                                                                          max_sample_size=320_000))
    encoder: EncoderConfig = field(default_factory=lambda: data2vec_base(feature_dropout=0.0))
    objective: Data2VecObjective = field(default_factory=Data2VecObjective)
    optim: OptimConfig = field(default_factory=lambda: OptimConfig(
        lr=5e-4, schedule="tri_stage", warmup=0.03, hold=0.9, final_lr_scale=0.05))
    train: TrainConfig = field(default_factory=lambda: TrainConfig(max_steps=400_000, clip_norm=0.0))


def train(cfg: Config, info: DistInfo) -> Path:
    module = Data2VecPretrainer(cfg.encoder, cfg.objective, seed=cfg.train.seed)
    dataset, sampler, collate = build_audio_data(cfg.data, info, cfg.train.seed)
    fit(module, dataset, sampler, collate, cfg.optim, ddp_settings(cfg.train, cfg.encoder), cfg.out_dir, info)
    return finish(module.encoder, cfg.encoder, cfg.out_dir, info, "data2vec", ("loss", "target_std", "pred_std"))
