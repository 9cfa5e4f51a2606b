"""CTC loss over padded batches, reduced as fairseq's ``ctc`` criterion with ``sentence_avg`` (its fine-tuning
setting): summed over frames and tokens, averaged over utterances. Utterances whose targets cannot be aligned
(more labels than frames) contribute zero instead of inf (``zero_infinity``)."""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F


def pack_targets(targets: Sequence[Sequence[int]], device: torch.device | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Token id lists -> (concatenated ids (N,), lengths (B,)), the layout ``F.ctc_loss`` takes."""
    lengths = torch.tensor([len(t) for t in targets], dtype=torch.long, device=device)
    flat = torch.tensor([i for t in targets for i in t], dtype=torch.long, device=device)
    return flat, lengths


def ctc_loss(logits: torch.Tensor, frame_lengths: torch.Tensor | None, targets: Sequence[Sequence[int]],
             blank_id: int = 0) -> torch.Tensor:
    """logits (B, T, V) unnormalised; frame_lengths (B,) valid frames (None: all T); targets: B id lists.

    Returns the per-utterance mean of the summed negative log-likelihood (a scalar).
    """
    B, T, _ = logits.shape
    if len(targets) != B:
        raise ValueError(f"{len(targets)} targets for a batch of {B}")
    log_probs = F.log_softmax(logits.float(), dim=-1).transpose(0, 1)          # (T, B, V), fp32 for stability
    if frame_lengths is None:
        frame_lengths = torch.full((B,), T, dtype=torch.long, device=logits.device)
    flat, target_lengths = pack_targets(targets, logits.device)
    nll = F.ctc_loss(log_probs, flat, frame_lengths.long(), target_lengths, blank=blank_id,
                     reduction="sum", zero_infinity=True)
    return nll / B
