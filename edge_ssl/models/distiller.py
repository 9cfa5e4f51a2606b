"""DistilHuBERT's student (s3prl ``distiller``): a shallow speech encoder plus prediction heads, one per
target teacher layer.

    wave (B, S) -> student conv extractor (grad x feature_grad_mult) -> projection -> 2 transformer layers
                -> last hidden (B, T, C) -> heads -> (B, N, T, D_teacher): one prediction per target layer

Heads, ``shared`` (s3prl ``out_layer_type: expand-last``): Linear(C, N*C) -> GELU -> a separate
Linear(C, D_teacher) per target ("SplitLinear"); ``separate``: one Linear(C, D_teacher) per target.
The student is built from the teacher's config with ``StudentConfig`` changes (depth, widths, conv stack);
``init_from_teacher`` copies every tensor whose name and shape match (conv layers, projection, positional
conv, the first transformer layers), so a narrower front-end simply keeps its own initialisation.
"""
from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass, field
from typing import Literal

import torch
from torch import nn

from edge_ssl.models.speech_encoder import EncoderConfig, SpeechEncoder

log = logging.getLogger(__name__)


@dataclass
class StudentConfig:
    num_layers: int = 2                   # DistilHuBERT: 2 transformer layers
    embed_dim: int = 0                    # 0 = the teacher's width (768 for BASE)
    num_heads: int = 0                    # 0 = the teacher's
    ffn_dim: int = 0                      # 0 = the teacher's (3072 for BASE)
    conv_layers: list[tuple[int, int, int]] = field(default_factory=list)  # [] = the teacher's conv stack
    target_layers: list[int] = field(default_factory=lambda: [4, 8, 12])   # teacher layers to predict (1-based)
    head: Literal["shared", "separate"] = "shared"  # shared: s3prl expand-last; separate: one Linear per target
    feature_grad_mult: float = 0.1        # s3prl/fairseq: scale the conv extractor's gradient
    init_from_teacher: bool = True        # copy every teacher tensor whose name and shape fit

    def validate(self) -> None:
        if self.num_layers < 1:
            raise ValueError(f"num_layers must be >= 1, got {self.num_layers}")
        if not self.target_layers or min(self.target_layers) < 1:
            raise ValueError(f"target_layers must be 1-based teacher layers, got {self.target_layers}")


def student_encoder_config(teacher: EncoderConfig, cfg: StudentConfig) -> EncoderConfig:
    """The teacher's architecture with the student's depth/width/conv changes, layerdrop 0 (s3prl).

    A Whisper teacher's padding of every clip to its 30 s window (``pad_to_frames``) is a property of the
    teacher's training, not the architecture: the student runs on the clip alone."""
    changes = {"num_layers": cfg.num_layers, "layerdrop": 0.0, "pad_to_frames": 0}
    for name in ("embed_dim", "num_heads", "ffn_dim"):
        if getattr(cfg, name):
            changes[name] = getattr(cfg, name)
    if cfg.conv_layers:
        changes["conv_layers"] = [tuple(c) for c in cfg.conv_layers]
    student = dataclasses.replace(teacher, **changes)
    student.validate()
    return student


class PredictionHeads(nn.Module):
    def __init__(self, dim: int, out_dim: int, num: int, design: str = "shared"):
        super().__init__()
        self.num, self.design = num, design
        if design == "shared":
            self.expand = nn.Linear(dim, dim * num)                        # s3prl: inter_dim = final_emb_size
            self.act = nn.GELU()
            self.weight = nn.Parameter(torch.empty(num, dim, out_dim))     # SplitLinear
            self.bias = nn.Parameter(torch.zeros(num, 1, out_dim))
            nn.init.uniform_(self.weight, -dim ** -0.5, dim ** -0.5)       # nn.Linear's init, per head
        elif design == "separate":
            self.linears = nn.ModuleList(nn.Linear(dim, out_dim) for _ in range(num))
        else:
            raise ValueError(f"head must be 'shared' or 'separate', got {design!r}")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # x: (B, T, C) -> (B, N, T, D)
        if self.design == "separate":
            return torch.stack([lin(x) for lin in self.linears], dim=1)
        B, T, C = x.shape
        h = self.act(self.expand(x)).reshape(B, T, self.num, C).transpose(1, 2)  # (B, N, T, C)
        return torch.einsum("bntc,ncd->bntd", h, self.weight) + self.bias


class Distiller(nn.Module):
    """Student encoder + prediction heads. ``forward`` gives the predictions; the encoder alone is what
    downstream tasks (CTC fine-tuning) use."""

    def __init__(self, teacher_cfg: EncoderConfig, cfg: StudentConfig):
        super().__init__()
        if max(cfg.target_layers) > teacher_cfg.num_layers:
            raise ValueError(f"target_layers {cfg.target_layers} exceed the teacher's {teacher_cfg.num_layers} layers")
        self.cfg = cfg
        self.student = SpeechEncoder(student_encoder_config(teacher_cfg, cfg))
        self.heads = PredictionHeads(self.student.embed_dim, teacher_cfg.embed_dim, len(cfg.target_layers), cfg.head)

    def forward(self, wave: torch.Tensor, lengths: torch.Tensor | None = None
                ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """wave (B, S) -> (predictions (B, N, T, D_teacher), pad_mask (B, T) or None)."""
        g = self.cfg.feature_grad_mult if self.training else 1.0
        out = self.student.extract_features(wave, lengths, grad_mult=g)
        return self.heads(out.last_hidden_state), out.pad_mask

    def init_from_teacher(self, teacher: SpeechEncoder) -> list[str]:
        """Copy the teacher's tensors into the student where name and shape match; returns the names copied."""
        own, src = self.student.state_dict(), teacher.state_dict()
        copied = [k for k, v in own.items() if k in src and src[k].shape == v.shape]
        self.student.load_state_dict({**own, **{k: src[k] for k in copied}})
        skipped = sorted(set(own) - set(copied))
        log.info("student initialised from the teacher: %d of %d tensors copied%s", len(copied), len(own),
                 f"; kept own init for {len(skipped)} (e.g. {', '.join(skipped[:4])})" if skipped else "")
        return copied
