"""Gumbel-softmax product quantizer of wav2vec 2.0 (Baevski et al. 2020, Sec. 2 and 3.2).

Each frame picks one entry from each of ``G`` codebooks of ``V`` entries (G=2, V=320 -> 102,400 codes);
the chosen entries are concatenated. Training picks with a straight-through Gumbel-softmax at temperature
``tau`` (annealed 2 -> 0.5 by x0.999995 per update); evaluation takes the argmax. The diversity loss uses
the perplexity of the batch-averaged softmax (no Gumbel noise) per group.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn


@dataclass
class QuantizerOutput:
    codes: torch.Tensor              # (N, dim) quantized vectors
    prob_perplexity: torch.Tensor    # () sum over groups of the softmax perplexity (diversity loss input)
    code_perplexity: torch.Tensor    # () sum over groups of the hard-choice perplexity (for logging)
    indices: torch.Tensor            # (N, G) chosen entry per group


def gumbel_temperature(step: int, start: float = 2.0, end: float = 0.5, decay: float = 0.999995) -> float:
    """fairseq's ``latent_temp`` schedule: max(end, start * decay^step)."""
    return max(end, start * decay ** step)


class GumbelQuantizer(nn.Module):
    def __init__(self, in_dim: int, dim: int = 256, groups: int = 2, entries: int = 320):
        super().__init__()
        if dim % groups:
            raise ValueError(f"quantizer dim ({dim}) must be divisible by groups ({groups})")
        self.groups, self.entries, self.dim = groups, entries, dim
        # (G * V, dim / G): one codebook row per entry; fairseq inits codebooks U(0, 1), logits N(0, 1)
        self.codebooks = nn.Parameter(torch.empty(groups * entries, dim // groups).uniform_())
        self.weight_proj = nn.Linear(in_dim, groups * entries)
        nn.init.normal_(self.weight_proj.weight, mean=0.0, std=1.0)
        nn.init.zeros_(self.weight_proj.bias)

    @property
    def num_codes(self) -> int:
        return self.groups * self.entries

    def forward(self, x: torch.Tensor, tau: float, noise: torch.Tensor | None = None) -> QuantizerOutput:
        """x: (N, in_dim) frames; noise: (N, G*V) uniform(0, 1) draws for the Gumbel noise, or None to draw
        them here (the pretraining module passes per-utterance seeded draws so masks and codes do not depend
        on the rank layout)."""
        N, G, V = x.shape[0], self.groups, self.entries
        logits = self.weight_proj(x).float().view(N, G, V)                     # (N, G, V)
        idx = logits.argmax(dim=-1)                                            # (N, G)
        hard = F.one_hot(idx, V).to(logits.dtype)                              # (N, G, V)
        code_perplexity = _perplexity(hard.mean(dim=0))
        prob_perplexity = _perplexity(logits.softmax(dim=-1).mean(dim=0))
        if self.training:
            if noise is None:
                noise = torch.rand_like(logits)
            gumbel = -torch.log(-torch.log(noise.view(N, G, V).to(logits).clamp(1e-10, 1.0 - 1e-7)))
            soft = ((logits + gumbel) / tau).softmax(dim=-1)
            idx = soft.argmax(dim=-1)
            onehot = F.one_hot(idx, V).to(soft.dtype) - soft.detach() + soft  # straight-through estimator
        else:
            onehot = hard
        books = self.codebooks.view(G, V, -1)                                  # (G, V, dim/G)
        codes = torch.einsum("ngv,gvd->ngd", onehot.to(books.dtype), books)    # (N, G, dim/G)
        return QuantizerOutput(codes.reshape(N, -1), prob_perplexity, code_perplexity, idx)


def _perplexity(probs: torch.Tensor) -> torch.Tensor:
    """(G, V) distributions -> () sum over groups of exp(entropy)."""
    return torch.exp(-(probs * torch.log(probs + 1e-7)).sum(dim=-1)).sum()
