"""wav2vec 2.0 pretraining module: encoder + Gumbel product quantizer + the two final_dim projections.

    normed conv features (unmasked) -> dropout_features -> quantizer -> project_q -> q_t     (targets)
    masked input -> transformer -> final_proj -> c_t                                          (context)
    loss at masked frames: InfoNCE(c_t, q_t, 100 distractors from the same utterance) + 0.1 L_d + 10 L_f
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

from edge_ssl.errors import EdgeSSLError
from edge_ssl.methods.masked import GUMBEL_STREAM, NEGATIVES_STREAM, MaskConfig, MaskedPretrainer
from edge_ssl.models.quantizer import GumbelQuantizer, gumbel_temperature
from edge_ssl.models.speech_encoder import EncoderConfig
from edge_ssl.objectives import wav2vec2 as obj
from edge_ssl.objectives.penalties import feature_penalty


@dataclass
class Wav2Vec2Objective:
    mask: MaskConfig = field(default_factory=MaskConfig)  # 0.65 / 10 / min 2 (wav2vec 2.0 base)
    final_dim: int = 256              # context and target projections (Sec. 4.2)
    codebook_groups: int = 2          # G
    codebook_entries: int = 320       # V per group
    temp_start: float = 2.0           # Gumbel temperature: max(end, start * decay^step)
    temp_end: float = 0.5
    temp_decay: float = 0.999995
    num_negatives: int = 100          # K distractors from the same utterance's masked frames
    logit_temp: float = 0.1           # kappa
    diversity_weight: float = 0.1     # alpha
    feature_pen_weight: float = 10.0  # beta (fairseq loss_weights [0.1, 10])
    feature_grad_mult: float = 0.1    # conv extractor gradients scaled by this
    dropout_features: float = 0.1     # dropout on the quantizer input


class Wav2Vec2Pretrainer(MaskedPretrainer):
    def __init__(self, encoder: EncoderConfig, objective: Wav2Vec2Objective, seed: int = 0):
        super().__init__(encoder, objective.mask, objective.feature_grad_mult, seed)
        o = self.obj = objective
        conv_dim = self.encoder.feature_dim
        self.quantizer = GumbelQuantizer(conv_dim, o.final_dim, o.codebook_groups, o.codebook_entries)
        self.project_q = nn.Linear(o.final_dim, o.final_dim)
        self.final_proj = nn.Linear(encoder.embed_dim, o.final_dim)
        self.dropout_features = nn.Dropout(o.dropout_features)

    @property
    def temperature(self) -> float:
        return gumbel_temperature(int(self.step), self.obj.temp_start, self.obj.temp_end, self.obj.temp_decay)

    def forward(self, batch: dict) -> tuple[torch.Tensor, dict[str, float]]:
        o = self.obj
        fe = self.front_end(batch["wave"], batch.get("lengths"))
        mask = self.span_mask(batch, fe)                                         # (B, T)
        hidden, _ = self.contextualise(self.encoder.project(fe.normed), mask, fe.pad_mask)
        counts = mask.sum(dim=1).tolist()                                        # masked frames per utterance
        if min(counts) < 2:
            raise EdgeSSLError("an utterance has fewer than 2 masked frames, so no distractor can be drawn: "
                               "raise objective.mask.min_masks or data.min_sample_size")

        context = self.final_proj(hidden[-1][mask])                             # (N, final_dim), utterance-major
        targets_in = self.dropout_features(fe.normed[mask])                      # (N, C_conv)
        noise = torch.cat([torch.from_numpy(r.random((n, self.quantizer.num_codes), dtype="float32"))
                           for r, n in zip(self.rngs(batch, GUMBEL_STREAM), counts)]).to(context.device)
        q = self.quantizer(targets_in, self.temperature, noise)
        positives = self.project_q(q.codes)                                      # (N, final_dim)

        # distractors: for each masked frame, K other masked frames of the same utterance
        offsets = torch.tensor([0] + counts[:-1]).cumsum(0).tolist()
        neg_idx = torch.cat([torch.from_numpy(obj.sample_negatives(n, o.num_negatives, r) + off)
                             for r, n, off in zip(self.rngs(batch, NEGATIVES_STREAM), counts, offsets)])
        negatives = positives[neg_idx.to(positives.device)]                     # (N, K, final_dim)

        logits = obj.contrastive_logits(context, positives, negatives, o.logit_temp)
        contrastive, acc = obj.contrastive_loss(logits)
        diversity = obj.diversity_loss(q.prob_perplexity, self.quantizer.num_codes)
        pen = feature_penalty(fe.conv)
        loss = contrastive + o.diversity_weight * diversity + o.feature_pen_weight * pen
        logs = {"contrastive": contrastive.item(), "diversity": diversity.item(), "feature_pen": pen.item(),
                "accuracy": acc.item(), "code_perplexity": q.code_perplexity.item(),
                "prob_perplexity": q.prob_perplexity.item(), "temperature": self.temperature,
                "mask_frac": sum(counts) / max(1, sum(fe.frame_lengths))}
        return loss, logs
