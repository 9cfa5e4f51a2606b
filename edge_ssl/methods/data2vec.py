"""data2vec (audio) pretraining module: student encoder + EMA teacher transformer + regression head.

    student: masked input -> transformer -> final_proj (C -> C)       at masked frames
    teacher: the same projected features, unmasked -> EMA transformer -> top-K FFN outputs, instance-normed,
             averaged                                                    (no gradient)
Only the transformer layers (and the encoder LayerNorm) are EMA'd: the conv extractor and feature projection
are the student's own (fairseq ``ema_transformer_only``), and so is the positional conv, which the teacher
copies from the student at every update (fairseq ``ema_layers_only``, the paper's setting). The teacher runs in
eval mode (no dropout, no layerdrop). ``on_update`` moves it toward the student with tau annealed 0.999 -> 0.9999.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, field

import torch
from torch import nn

from edge_ssl.errors import EdgeSSLError
from edge_ssl.methods.masked import MaskConfig, MaskedPretrainer
from edge_ssl.models.speech_encoder import EncoderConfig
from edge_ssl.objectives import data2vec as obj


@dataclass
class Data2VecObjective:
    mask: MaskConfig = field(default_factory=lambda: MaskConfig(mask_prob=0.65, min_masks=1))
    top_k: int = 8                    # teacher layers averaged into the target
    instance_norm: bool = True        # instance-normalise each layer over time before averaging
    loss_beta: float = 0.0            # 0: L2; > 0: smooth-L1 with this beta
    ema_start: float = 0.999          # tau at step 0
    ema_end: float = 0.9999           # tau after ema_anneal_steps
    ema_anneal_steps: int = 30_000
    feature_grad_mult: float = 1.0    # data2vec trains the extractor at full rate (fairseq default 1.0)
    # The input normalisation (fairseq task.normalize: true) is the encoder's: ``encoder.normalize``, saved
    # with the model so that every later stage and artifact applies it too.


class Data2VecPretrainer(MaskedPretrainer):
    def __init__(self, encoder: EncoderConfig, objective: Data2VecObjective, seed: int = 0):
        super().__init__(encoder, objective.mask, objective.feature_grad_mult, seed)
        if objective.top_k > encoder.num_layers:
            raise EdgeSSLError(f"objective.top_k ({objective.top_k}) exceeds encoder.num_layers ({encoder.num_layers})")
        self.obj = objective
        self.final_proj = nn.Linear(encoder.embed_dim, encoder.embed_dim)
        self.teacher = copy.deepcopy(self.encoder.transformer)   # starts as the student's transformer
        self.teacher.requires_grad_(False)                  # not optimised: moved by EMA in on_update

    def train(self, mode: bool = True) -> "Data2VecPretrainer":
        super().train(mode)
        self.teacher.eval()
        return self

    @torch.no_grad()
    def on_update(self, step: int) -> None:
        super().on_update(step)
        tau = obj.ema_decay(step, self.obj.ema_start, self.obj.ema_end, self.obj.ema_anneal_steps)
        for (name, t), s in zip(self.teacher.named_parameters(), self.encoder.transformer.parameters()):
            if name.startswith("pos_conv."):  # shared, not averaged (fairseq ema_layers_only)
                t.copy_(s)
            else:
                t.mul_(tau).add_(s.detach(), alpha=1.0 - tau)
        for t, s in zip(self.teacher.buffers(), self.encoder.transformer.buffers()):
            t.copy_(s)

    def forward(self, batch: dict) -> tuple[torch.Tensor, dict[str, float]]:
        o = self.obj
        wave, lengths = batch["wave"], batch.get("lengths")                   # raw (B, S), (B,)
        fe = self.front_end(wave, lengths)
        mask = self.span_mask(batch, fe)                                         # (B, T)
        projected = self.encoder.project(fe.normed)                                   # (B, T, C)
        hidden, _ = self.contextualise(projected, mask, fe.pad_mask)
        with torch.no_grad():
            _, ffns = self.teacher(projected.detach(), fe.pad_mask)
            target = obj.teacher_targets(ffns, o.top_k, fe.pad_mask, o.instance_norm)  # (B, T, C)
        pred = self.final_proj(hidden[-1][mask])                                 # (N, C)
        loss = obj.regression_loss(pred, target[mask], o.loss_beta)
        tau = obj.ema_decay(int(self.step), o.ema_start, o.ema_end, o.ema_anneal_steps)
        logs = {"regression": loss.item(), "ema_decay": tau, "target_std": target[mask].std().item(),
                "pred_std": pred.detach().float().std().item(),
                "mask_frac": float(mask.sum()) / max(1, sum(fe.frame_lengths))}
        return loss, logs
