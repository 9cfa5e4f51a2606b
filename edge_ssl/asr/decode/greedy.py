"""Greedy CTC decoding: best class per frame, collapse repeats, drop blanks."""
from __future__ import annotations

import numpy as np
import torch


def greedy_ids(logits: torch.Tensor | np.ndarray, blank_id: int = 0, length: int | None = None) -> list[int]:
    """logits: (T, V) for one utterance -> token ids."""
    best = np.asarray(logits.argmax(-1) if isinstance(logits, np.ndarray) else logits.argmax(-1).cpu())
    if length is not None:
        best = best[:length]
    keep = np.ones(len(best), dtype=bool)
    keep[1:] = best[1:] != best[:-1]
    return [int(i) for i in best[keep & (best != blank_id)]]
