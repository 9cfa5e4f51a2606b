"""Optimiser and learning-rate schedules used by the recipes.

Schedules (all warm up linearly from 0):
- ``linear``: then linear decay to 0 (fairseq ``polynomial_decay`` power 1: wav2vec 2.0, HuBERT, DistilHuBERT);
- ``cosine``: then cosine decay to ``final_lr_scale`` (MAE, data2vec);
- ``tri_stage``: hold, then exponential decay to ``final_lr_scale`` (fairseq CTC fine-tuning).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable, Literal

import torch


@dataclass
class OptimConfig:
    lr: float = 5e-4                      # peak learning rate
    betas: tuple[float, float] = (0.9, 0.98)
    eps: float = 1e-6
    weight_decay: float = 0.01
    schedule: Literal["linear", "cosine", "tri_stage", "constant"] = "linear"
    warmup: float = 0.08                  # <1: fraction of max_steps; >=1: steps (wav2vec 2.0: 32k of 400k)
    hold: float = 0.4                     # tri_stage only: fraction of steps at peak (fairseq: 0.4)
    final_lr_scale: float = 0.05          # cosine / tri_stage floor as a fraction of lr

    def validate(self) -> None:
        # lr 0 is allowed: MAE derives it from blr at run time
        checks = [(self.lr >= 0, "lr", ">= 0"), (all(0 <= b < 1 for b in self.betas), "betas", "in [0, 1)"),
                  (self.eps >= 0, "eps", ">= 0"), (self.weight_decay >= 0, "weight_decay", ">= 0"),
                  (self.warmup >= 0, "warmup", ">= 0"), (0 <= self.hold <= 1, "hold", "in [0, 1]"),
                  (0 <= self.final_lr_scale <= 1, "final_lr_scale", "in [0, 1]")]
        for ok, key, rule in checks:
            if not ok:
                raise ValueError(f"{key} must be {rule}, got {getattr(self, key)!r}")
        if self.schedule == "tri_stage" and self.final_lr_scale == 0:
            raise ValueError("final_lr_scale must be > 0 for the tri_stage schedule (it decays exponentially to it)")

    def warmup_steps(self, max_steps: int) -> int:
        return int(self.warmup * max_steps) if self.warmup < 1 else int(self.warmup)


def build_optimizer(params: Iterable[torch.nn.Parameter] | Iterable[dict], cfg: OptimConfig) -> torch.optim.Optimizer:
    # AdamW for every recipe: fairseq's "adam" also applies weight decay decoupled from the gradient.
    return torch.optim.AdamW(params, lr=cfg.lr, betas=cfg.betas, eps=cfg.eps, weight_decay=cfg.weight_decay)


def lr_factor(step: int, max_steps: int, cfg: OptimConfig) -> float:
    """Multiplier of the peak lr after ``step`` updates."""
    warm = cfg.warmup_steps(max_steps)
    if step < warm:
        return (step + 1) / warm
    if cfg.schedule == "constant":
        return 1.0
    rest = max(1, max_steps - warm)
    t = min(1.0, (step - warm) / rest)
    if cfg.schedule == "linear":
        return max(0.0, 1.0 - t)
    if cfg.schedule == "cosine":
        return cfg.final_lr_scale + (1 - cfg.final_lr_scale) * 0.5 * (1 + math.cos(math.pi * t))
    hold = int(cfg.hold * max_steps)
    if step < warm + hold:
        return 1.0
    decay = max(1, max_steps - warm - hold)
    return math.exp(math.log(cfg.final_lr_scale) * min(1.0, (step - warm - hold) / decay))


def build_scheduler(opt: torch.optim.Optimizer, cfg: OptimConfig, max_steps: int) -> torch.optim.lr_scheduler.LambdaLR:
    return torch.optim.lr_scheduler.LambdaLR(opt, lambda s: lr_factor(s, max_steps, cfg))
