"""DistilHuBERT's training module (s3prl ``distiller``): a frozen teacher and a trainable ``Distiller``
(student + prediction heads); the loss is L1 + λ(−log σ(cos)) per target teacher layer. Teacher targets
come from the teacher per batch, or from a cache of its features (``targets/teacher_cache.py``)."""
from __future__ import annotations

import torch
from torch import nn

from edge_ssl.models.distiller import Distiller
from edge_ssl.models.speech_encoder import SpeechEncoder
from edge_ssl.objectives.distill import distill_loss


class DistillModule(nn.Module):
    """Frozen teacher + trainable Distiller; ``forward(batch) -> (loss, logs)`` for ``training.loop.fit``."""

    def __init__(self, teacher: SpeechEncoder, distiller: Distiller, cos_weight: float, cache=None):
        super().__init__()
        self.teacher, self.distiller, self.cos_weight = teacher, distiller, cos_weight
        self.cache = cache  # a TeacherCache over the training audio, or None: run the teacher per batch
        self.layers = list(distiller.cfg.target_layers)
        # Nothing is masked while distilling: mask_emb keeps its (teacher's) value for fine-tuning, and an
        # unused trainable tensor would stall DDP's gradient reduction.
        distiller.student.freeze("mask_emb")

    def train(self, mode: bool = True) -> "DistillModule":
        super().train(mode)
        self.teacher.eval()  # the teacher never drops out
        return self

    def targets(self, wave: torch.Tensor, lengths: torch.Tensor | None) -> torch.Tensor:
        with torch.no_grad():
            out = self.teacher.extract_features(wave, lengths, num_layers=max(self.layers))
        return torch.stack([out.hidden_states[k] for k in self.layers], dim=1)  # (B, N, T, D)

    def cached_targets(self, batch: dict, num_frames: int) -> tuple[torch.Tensor, torch.Tensor]:
        """The crops' teacher frames from the cache -> (targets (B, N, T, D), pad mask (B, T), True where
        there is no target). Crops start on a frame hop, so frame k of a crop is teacher frame start/hop + k."""
        hop = self.teacher.downsample_rate
        counts = self.distiller.student.frame_lengths(batch["lengths"])          # (B,)
        rows = [self.cache.frames(i, int(s) // hop, int(n)) for i, s, n in zip(batch["ids"], batch["starts"], counts)]
        B, (N, D) = len(rows), rows[0].shape[1:]
        target = torch.zeros(B, num_frames, N, D)
        missing = torch.ones(B, num_frames, dtype=torch.bool)
        for b, r in enumerate(rows):
            target[b, :len(r)] = r[:num_frames]
            missing[b, :len(r)] = False
        return target.transpose(1, 2).to(batch["wave"].device), missing.to(batch["wave"].device)

    def forward(self, batch: dict) -> tuple[torch.Tensor, dict[str, float]]:
        wave, lengths = batch["wave"], batch["lengths"]                           # (B, S), (B,)
        pred, pad_mask = self.distiller(wave, lengths)                            # (B, N, T, D)
        if self.cache is None:
            target = self.targets(wave, lengths)
        else:
            target, missing = self.cached_targets(batch, pred.shape[2])
            pad_mask = missing if pad_mask is None else pad_mask | missing
        loss, l1, cos = distill_loss(pred, target, pad_mask, self.cos_weight)
        logs = {f"l1_layer{k}": float(v) for k, v in zip(self.layers, l1)}
        logs.update({f"cos_layer{k}": float(v) for k, v in zip(self.layers, cos)})
        return loss, logs
