"""DistilHuBERT: distil a frozen teacher encoder into a shallow student (s3prl ``distiller`` recipe).

    teacher model file (edge-ssl pretrain, or edge-ssl import of HF/fairseq) -> frozen, eval, layerdrop 0
    student = teacher's conv stack + 2 transformer layers (+ config changes), initialised from the teacher
    loss = mean over target layers of L1 + λ(−log σ(cos)) between head predictions and teacher layers
    -> out_dir/model.safetensors: the student as a ``speech_encoder`` (heads dropped), ready for
       ``edge-ssl finetune model.init_from=...``; out_dir/report.json: params, GFLOPs per second of audio
       (teacher and student) and per-layer cosine similarity on held-out audio.
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from edge_ssl.errors import EdgeSSLError
from edge_ssl.atomic import atomic_write_text
from edge_ssl.models.distiller import Distiller, StudentConfig
from edge_ssl.models.speech_encoder import SpeechEncoder
from edge_ssl.methods.distill import DistillModule
from edge_ssl.recipes.runner import AudioDataConfig, build_audio_data
from edge_ssl.training.distributed import DistInfo, barrier
from edge_ssl.training.loop import TrainConfig, fit, plot_metrics
from edge_ssl.training.optim import OptimConfig

log = logging.getLogger(__name__)


@dataclass
class Config:
    out_dir: str = "runs/distilhubert"     # model.safetensors (student), report.json, metrics.jsonl, loss.png
    teacher: str = ""                      # teacher model file (speech_encoder or ctc kind); required
    data: AudioDataConfig = field(default_factory=lambda: AudioDataConfig(max_sample_size=250_000))
    student: StudentConfig = field(default_factory=StudentConfig)
    cos_weight: float = 1.0                # λ of the cosine term (DistilHuBERT: 1)
    # Folder for cached teacher features (targets/teacher_cache.py): the teacher runs once over the training
    # audio instead of on every batch. "" = run the teacher on every batch (cheap teachers, tiny runs).
    teacher_cache: str = ""
    report_utterances: int = 200           # held-out utterances (data.valid_manifest) for the similarity report
    # s3prl DistilHuBERT: AdamW lr 2e-4, 7% linear warm-up then linear decay, 200k steps, batch 24
    optim: OptimConfig = field(default_factory=lambda: OptimConfig(
        lr=2e-4, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, schedule="linear", warmup=0.07))
    train: TrainConfig = field(default_factory=lambda: TrainConfig(max_steps=200_000, clip_norm=5.0))


def load_teacher(path: str) -> SpeechEncoder:
    """Any speech_encoder/ctc model file -> frozen encoder in eval mode. Mismatched files name their tensors."""
    from edge_ssl.models.store import load_model

    if not path:
        raise EdgeSSLError("no teacher: set teacher=<model file> (edge-ssl pretrain ... or edge-ssl import ...)")
    model, meta = load_model(path)
    encoder = model.encoder if meta["kind"] == "ctc" else model
    return encoder.eval().requires_grad_(False)


def encoder_cost(encoder: SpeechEncoder) -> dict[str, float]:
    """Parameters and forward GFLOPs for one second of 16 kHz audio (torch's FlopCounterMode: conv, matmul, attention)."""
    from edge_ssl.models.flops import forward_flops

    enc = encoder.eval()
    flops = forward_flops(enc, torch.zeros(1, 16000, device=next(enc.parameters()).device))
    return {"params_m": round(sum(p.numel() for p in enc.parameters()) / 1e6, 3), "gflops_per_s": round(flops / 1e9, 3)}


@torch.no_grad()
def layer_similarity(module: DistillModule, manifest: str, limit: int) -> dict[str, dict[str, float]]:
    """Mean cosine similarity and L1 between each head and its teacher layer over held-out audio frames."""
    from edge_ssl.audio.io import load_audio
    from edge_ssl.data.manifest import read_manifest

    module.eval()
    device = next(module.parameters()).device
    sums = torch.zeros(2, len(module.layers), dtype=torch.float64)
    frames = 0
    for utt in read_manifest(manifest)[:limit]:
        wave = torch.from_numpy(load_audio(utt.audio_path))[None].to(device)   # (1, S)
        target = module.targets(wave, None)
        pred, _ = module.distiller(wave, None)
        n = target.shape[2]
        sums[0] += torch.nn.functional.cosine_similarity(pred, target, dim=-1).sum((0, 2)).double().cpu()
        sums[1] += (pred - target).abs().mean(-1).sum((0, 2)).double().cpu()
        frames += n
    return {f"layer{k}": {"cosine": round(float(sums[0, i]) / frames, 4), "l1": round(float(sums[1, i]) / frames, 4)}
            for i, k in enumerate(module.layers)}


def teacher_cache(teacher: SpeechEncoder, cfg: Config, info: DistInfo):
    """The teacher's target layers over the training manifest, cached once (rank 0 builds, others wait)."""
    from edge_ssl.data.manifest import check_audio, read_manifest
    from edge_ssl.targets.teacher_cache import build_cache

    # The same utterances the dataset keeps: headers checked, unreadable and too-short files left out.
    utts = [u for u in check_audio(read_manifest(cfg.data.train_manifest)) if u.num_samples >= cfg.data.min_sample_size]
    layers = list(cfg.student.target_layers)
    if info.is_main:
        build_cache(teacher, cfg.teacher, layers, utts, cfg.teacher_cache)
    barrier(info)
    return build_cache(teacher, cfg.teacher, layers, utts, cfg.teacher_cache)  # complete now: just opens it


def train(cfg: Config, info: DistInfo) -> Path:
    out = Path(cfg.out_dir)
    teacher = load_teacher(cfg.teacher)
    try:
        distiller = Distiller(teacher.cfg, cfg.student)
    except ValueError as e:
        raise EdgeSSLError(f"student config does not fit the teacher {cfg.teacher}: {e}") from None
    probe = torch.tensor([16000])
    if not torch.equal(distiller.student.frame_lengths(probe), teacher.frame_lengths(probe)):
        raise EdgeSSLError("student.conv_layers must keep the teacher's frame rate (same kernels and strides): "
                           "its frames are compared one to one with the teacher's")
    if cfg.student.init_from_teacher:
        distiller.init_from_teacher(teacher)
    cache = None
    if cfg.teacher_cache:
        cache = teacher_cache(teacher, cfg, info)
    module = DistillModule(teacher, distiller, cfg.cos_weight, cache)
    dataset, sampler, collate = build_audio_data(cfg.data, info, cfg.train.seed,
                                                 crop_multiple=teacher.downsample_rate if cache else 1)
    fit(module, dataset, sampler, collate, cfg.optim, cfg.train, out, info)

    if info.is_main:
        from edge_ssl.models.store import save_model

        save_model(distiller.student, out / "model.safetensors", "speech_encoder", distiller.student.cfg,
                   distilled_from=str(cfg.teacher), target_layers=list(cfg.student.target_layers))
        plot_metrics(out / "metrics.jsonl", out / "loss.png", ("loss", *[f"cos_layer{k}" for k in module.layers]))
        report = {"teacher": {"file": cfg.teacher, **encoder_cost(teacher)},
                  "student": {"file": str(out / "model.safetensors"), **encoder_cost(distiller.student)}}
        if cfg.data.valid_manifest:
            report["similarity"] = layer_similarity(module, cfg.data.valid_manifest, cfg.report_utterances)
            report["similarity_manifest"] = cfg.data.valid_manifest
        atomic_write_text(out / "report.json", json.dumps(report, indent=2) + "\n")
        log.info("teacher %s | student %s", report["teacher"], report["student"])
        for layer, s in report.get("similarity", {}).items():
            log.info("held-out %s: cosine %.4f  L1 %.4f", layer, s["cosine"], s["l1"])
    barrier(info)
    return out / "model.safetensors"
