"""HuBERT masked prediction (Hsu et al. 2021, Sec. II; fairseq ``hubert.py`` + ``hubert_criterion.py``).

The projected output o_t (final_dim 256) scores every cluster c by cosine similarity with a learned label
embedding e_c, over a temperature (0.1); cross-entropy against the k-means label of frame t. The loss is
``pred_masked_weight`` x CE over masked frames + ``pred_nomask_weight`` x CE over unmasked frames (base:
1 and 0), both summed and divided by fairseq's ``sample_size``: the frame count of every term with a nonzero
weight (the masked frames in the base setting).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

IGNORE = -100  # label value of frames without a target (padding, beyond the label sequence)


def frame_targets(labels: torch.Tensor, num_frames: int, label_rate: float, frame_rate: float) -> torch.Tensor:
    """Labels at ``label_rate`` (B, L) -> one label per encoder frame (B, num_frames).

    fairseq's ``feat2tar_ratio`` = label_rate / frame_rate: frame t takes label floor(t * ratio) (100 Hz
    MFCC labels on a 50 Hz encoder: every second label). fairseq trims the whole batch to its shortest
    label sequence; here a frame whose label index runs past its own sequence gets IGNORE instead."""
    ratio = label_rate / frame_rate
    idx = (torch.arange(num_frames, device=labels.device, dtype=torch.float64) * ratio).long()  # (T,)
    valid = idx < labels.shape[1]
    out = labels[:, idx.clamp(max=labels.shape[1] - 1)]                                       # (B, T)
    return out.masked_fill(~valid[None, :], IGNORE)


def cluster_logits(proj: torch.Tensor, label_embs: torch.Tensor, logit_temp: float = 0.1) -> torch.Tensor:
    """proj: (N, D) projected frames; label_embs: (C, D) -> (N, C) cosine similarities / logit_temp."""
    x = F.normalize(proj.float(), dim=-1, eps=1e-8)
    e = F.normalize(label_embs.float(), dim=-1, eps=1e-8)
    return x @ e.t() / logit_temp


def masked_prediction_loss(logits: torch.Tensor, targets: torch.Tensor, masked: torch.Tensor,
                           pred_masked_weight: float = 1.0, pred_nomask_weight: float = 0.0
                           ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """logits: (N, C) at frames with a target; targets: (N,) cluster ids; masked: (N,) bool.

    Returns (() loss, {"ce_masked", "acc_masked", "ce_unmasked"}: () each, the CEs per frame of their kind)."""
    ce = F.cross_entropy(logits, targets, reduction="none")                   # (N,)
    n_masked, n_unmasked = masked.sum(), (~masked).sum()
    ce_m = ce[masked].sum() / n_masked.clamp_min(1)
    ce_u = ce[~masked].sum() / n_unmasked.clamp_min(1)
    # fairseq hubert_criterion's sample_size: the frames of every term that has a weight
    sample_size = (n_masked * (pred_masked_weight > 0) + n_unmasked * (pred_nomask_weight > 0)).clamp_min(1)
    loss = pred_masked_weight * ce[masked].sum() / sample_size
    if pred_nomask_weight > 0:
        loss = loss + pred_nomask_weight * ce[~masked].sum() / sample_size
    acc = (logits[masked].argmax(dim=-1) == targets[masked]).float().mean() if bool(masked.any()) \
        else logits.new_zeros(())
    return loss, {"ce_masked": ce_m.detach(), "acc_masked": acc.detach(), "ce_unmasked": ce_u.detach()}
