"""wav2vec 2.0 objective (Baevski et al. 2020, Sec. 3.2; fairseq ``wav2vec2.py`` + ``wav2vec_criterion.py``).

    L = L_m + alpha * L_d + beta * L_f
    L_m: InfoNCE at masked frames: cos(c_t, q_t) / kappa against K distractors q~ sampled uniformly from the
         OTHER masked frames of the same utterance (kappa 0.1, K 100)
    L_d: diversity, (G*V - perplexity of the batch-averaged code distribution) / (G*V)   (alpha 0.1)
    L_f: mean squared conv feature activation (beta 10), ``edge_ssl.objectives.penalties.feature_penalty``
Every term is normalised per masked frame, as fairseq reports it (its sums divided by sample_size).
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F


def sample_negatives(num: int, num_negatives: int, rng: np.random.Generator) -> np.ndarray:
    """(num, num_negatives) indices into one utterance's ``num`` masked frames, never the positive itself.

    fairseq's trick: draw from [0, num - 1) and shift draws >= the positive's index up by one, so each of
    the other frames is equally likely (duplicates allowed, as in fairseq)."""
    if num < 2:
        raise ValueError(f"need at least 2 masked frames to sample negatives, got {num}")
    draws = rng.integers(0, num - 1, size=(num, num_negatives))
    own = np.arange(num)[:, None]
    return draws + (draws >= own)


def contrastive_logits(context: torch.Tensor, positives: torch.Tensor, negatives: torch.Tensor,
                       logit_temp: float = 0.1) -> torch.Tensor:
    """context, positives: (N, D); negatives: (N, K, D) -> logits (N, 1 + K), column 0 the positive.

    A distractor identical to the positive (the same code picked twice) is masked to -inf, as in fairseq."""
    targets = torch.cat([positives.unsqueeze(1), negatives], dim=1)             # (N, 1 + K, D)
    logits = F.cosine_similarity(context.float().unsqueeze(1), targets.float(), dim=-1) / logit_temp
    same = (negatives == positives.unsqueeze(1)).all(dim=-1)                   # (N, K)
    return torch.cat([logits[:, :1], logits[:, 1:].masked_fill(same, float("-inf"))], dim=1)


def contrastive_loss(logits: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(N, 1 + K) logits, column 0 the positive -> (() mean InfoNCE loss, () accuracy: the fraction of
    frames where the positive scores highest)."""
    target = torch.zeros(logits.shape[0], dtype=torch.long, device=logits.device)
    loss = F.cross_entropy(logits, target)
    acc = (logits.argmax(dim=-1) == 0).float().mean()
    return loss, acc


def diversity_loss(prob_perplexity: torch.Tensor, num_codes: int) -> torch.Tensor:
    """() perplexity summed over groups (max G*V) -> () in [0, 1); 0 when every entry is used equally."""
    return (num_codes - prob_perplexity) / num_codes
