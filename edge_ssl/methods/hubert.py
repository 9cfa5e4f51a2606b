"""HuBERT pretraining module: encoder + final projection (final_dim 256) + one embedding per cluster.

    masked input -> transformer -> final_proj -> cosine with label embeddings / 0.1 -> CE vs k-means labels
The batch carries ``labels`` (B, L) at ``label_rate`` Hz (IGNORE-padded), cropped with the audio
(``edge_ssl.targets.labels.LabeledAudioDataset``).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

from edge_ssl.errors import EdgeSSLError
from edge_ssl.methods.masked import MaskConfig, MaskedPretrainer
from edge_ssl.models.speech_encoder import EncoderConfig
from edge_ssl.objectives import hubert as obj
from edge_ssl.objectives.penalties import feature_penalty


@dataclass
class HubertObjective:
    mask: MaskConfig = field(default_factory=lambda: MaskConfig(mask_prob=0.8))  # HuBERT base: 0.8 / 10
    num_classes: int = 100            # k-means clusters of the current iteration (1: 100 MFCC, 2: 500)
    label_rate: float = 100.0         # labels per second (MFCC: 100; encoder-feature labels: 50)
    final_dim: int = 256              # projection and label-embedding size
    logit_temp: float = 0.1
    pred_masked_weight: float = 1.0   # CE over masked frames
    pred_nomask_weight: float = 0.0   # CE over unmasked frames (0 in the paper's best setting)
    feature_pen_weight: float = 10.0  # fairseq hubert loss_weights [10]
    feature_grad_mult: float = 0.1


class HubertPretrainer(MaskedPretrainer):
    def __init__(self, encoder: EncoderConfig, objective: HubertObjective, seed: int = 0):
        super().__init__(encoder, objective.mask, objective.feature_grad_mult, seed)
        self.obj = objective
        self.final_proj = nn.Linear(encoder.embed_dim, objective.final_dim)
        self.label_embs = nn.Parameter(torch.empty(objective.num_classes, objective.final_dim).uniform_())

    def forward(self, batch: dict) -> tuple[torch.Tensor, dict[str, float]]:
        o = self.obj
        fe = self.front_end(batch["wave"], batch.get("lengths"))
        mask = self.span_mask(batch, fe)                                         # (B, T)
        hidden, _ = self.contextualise(self.encoder.project(fe.normed), mask, fe.pad_mask)
        frame_rate = 16000 / self.encoder.downsample_rate
        targets = obj.frame_targets(batch["labels"], mask.shape[1], o.label_rate, frame_rate)  # (B, T)
        real = targets != obj.IGNORE
        if fe.pad_mask is not None:
            real &= ~fe.pad_mask
        if bool((targets[real] >= o.num_classes).any()):
            raise EdgeSSLError(f"a label >= objective.num_classes ({o.num_classes}): the label file was made "
                               f"with more clusters than the config says")
        logits = obj.cluster_logits(self.final_proj(hidden[-1][real]), self.label_embs, o.logit_temp)  # (N, C)
        loss, parts = obj.masked_prediction_loss(logits, targets[real], mask[real],
                                                 o.pred_masked_weight, o.pred_nomask_weight)
        pen = feature_penalty(fe.conv)
        loss = loss + o.feature_pen_weight * pen
        logs = {k: v.item() for k, v in parts.items()}
        logs.update(feature_pen=pen.item(), mask_frac=float(mask.sum()) / max(1, sum(fe.frame_lengths)))
        return loss, logs
