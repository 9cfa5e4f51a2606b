"""Span masking over encoder frames, with fairseq's ``compute_mask_indices`` semantics (static spans).

``mask_prob`` is NOT a per-frame probability: an utterance of ``T`` real frames gets
``num_spans = int(mask_prob * T / span + u)`` spans (``u ~ U[0, 1)`` rounds stochastically, at least
``min_masks``), whose starts are drawn without replacement; spans may overlap, so with mask_prob 0.65 and
span 10 about 49% of the frames end up masked (HuBERT's 0.8: about 55%).

Randomness comes from a ``numpy.random.Generator`` per utterance. The pretraining modules seed it from
``(seed, step, utterance index)``, so a mask does not depend on the batch it travels in, the rank, or the
number of processes: one process with gradient accumulation and two DDP processes draw the same masks.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch


def utterance_rng(seed: int, step: int, index: int, stream: int = 0) -> np.random.Generator:
    """The generator for one utterance at one update; ``stream`` separates independent draws (mask, negatives)."""
    return np.random.default_rng([int(seed), int(step), int(index), int(stream)])


def span_mask(num_frames: int, mask_prob: float, span: int, rng: np.random.Generator,
              min_masks: int = 0) -> np.ndarray:
    """One utterance: (num_frames,) bool, True where masked."""
    mask = np.zeros(num_frames, dtype=bool)
    if num_frames <= 0 or mask_prob <= 0:
        return mask
    num_spans = max(min_masks, int(mask_prob * num_frames / float(span) + rng.random()))
    if num_spans == 0:
        return mask
    # Starts are drawn from [0, n - span); when that range cannot hold num_spans distinct starts it is
    # widened to num_spans + 1 (fairseq's rule), and spans running past the end are clipped.
    high = num_frames - span if num_frames - span > num_spans else num_spans + 1
    starts = rng.choice(high, num_spans, replace=False)
    idx = (starts[:, None] + np.arange(span)[None, :]).reshape(-1)
    mask[idx[idx < num_frames]] = True
    return mask


def batch_span_mask(frame_lengths: Sequence[int], num_frames: int, mask_prob: float, span: int,
                    rngs: Sequence[np.random.Generator], min_masks: int = 0,
                    device: torch.device | str = "cpu") -> torch.Tensor:
    """Masks for a padded batch: (B, num_frames) bool, never True at padding.

    frame_lengths: real frames per utterance (B,); rngs: one generator per utterance (``utterance_rng``).
    """
    if len(frame_lengths) != len(rngs):
        raise ValueError(f"{len(frame_lengths)} lengths but {len(rngs)} generators")
    out = np.zeros((len(frame_lengths), num_frames), dtype=bool)
    for row, (n, rng) in enumerate(zip(frame_lengths, rngs)):
        n = min(int(n), num_frames)
        out[row, :n] = span_mask(n, mask_prob, span, rng, min_masks)
    return torch.from_numpy(out).to(device)
