"""Masked pretraining: what the wav2vec 2.0 / HuBERT / data2vec modules share.

    wave (B, S) -> features (x feature_grad_mult) -> normalize_features -> ``normed`` -> project
                -> embed (dropout, mask_emb at masked frames) -> contextualise

Each step is a SpeechEncoder stage (its one forward path); a module adds what its objective needs between.

Randomness of the objective (span masks, distractors, Gumbel noise) is drawn per utterance from
``(seed, step, dataset index)`` (``edge_ssl.audio.masking.utterance_rng``), not from the global RNG, so the
same utterance at the same update gets the same draws whatever batch, rank or process count carries it.
That makes one process with gradient accumulation match ``torchrun`` with the same global batch, and a
resumed run match an uninterrupted one (``step`` is a buffer, so it is checkpointed).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from edge_ssl.audio.masking import batch_span_mask, utterance_rng
from edge_ssl.models.speech_encoder import EncoderConfig, SpeechEncoder

# utterance_rng streams: independent draws for the same utterance and step
MASK_STREAM, NEGATIVES_STREAM, GUMBEL_STREAM = 0, 1, 2


@dataclass
class MaskConfig:
    mask_prob: float = 0.65   # spans per utterance = mask_prob * T / span (fairseq), NOT a per-frame probability
    span: int = 10            # frames per span (10 x 20 ms = 200 ms)
    min_masks: int = 2        # at least this many spans per utterance (fairseq wav2vec 2.0 / HuBERT: 2)

    def validate(self) -> None:
        if not 0.0 <= self.mask_prob <= 1.0:
            raise ValueError(f"mask_prob must be in [0, 1], got {self.mask_prob}")
        if self.span < 1:
            raise ValueError(f"span must be >= 1, got {self.span}")


@dataclass
class FrontEnd:
    conv: torch.Tensor                 # (B, T, C_conv) extractor output (feature penalty)
    normed: torch.Tensor               # (B, T, C_conv) after the feature LayerNorm (wav2vec 2.0 quantizer input)
    pad_mask: torch.Tensor | None      # (B, T) True at padding
    frame_lengths: list[int]           # real frames per utterance


class MaskedPretrainer(nn.Module):
    """Base of the three modules: owns the encoder, the update counter and the per-utterance draws."""

    def __init__(self, encoder: EncoderConfig, mask: MaskConfig, feature_grad_mult: float, seed: int):
        super().__init__()
        self.encoder = SpeechEncoder(encoder)
        self.encoder.init_for_pretraining()
        self.mask_cfg, self.feature_grad_mult, self.seed = mask, feature_grad_mult, seed
        self.register_buffer("step", torch.zeros((), dtype=torch.long))  # updates done (checkpointed)

    def on_update(self, step: int) -> None:
        self.step.fill_(step)

    def rngs(self, batch: dict, stream: int) -> list[np.random.Generator]:
        step = int(self.step)
        return [utterance_rng(self.seed, step, int(i), stream) for i in batch["indices"].tolist()]

    def front_end(self, wave: torch.Tensor, lengths: torch.Tensor | None) -> FrontEnd:
        enc = self.encoder
        conv = enc.features(wave, lengths, self.feature_grad_mult)              # (B, T, C_conv)
        B, T, _ = conv.shape
        pad_mask = enc.padding_mask(lengths, T)
        frames = [T] * B if lengths is None else enc.frame_lengths(lengths).clamp(max=T).tolist()
        return FrontEnd(conv, enc.normalize_features(conv), pad_mask, frames)

    def span_mask(self, batch: dict, fe: FrontEnd) -> torch.Tensor:
        """(B, T) bool, True at masked frames, never at padding."""
        m = self.mask_cfg
        return batch_span_mask(fe.frame_lengths, fe.conv.shape[1], m.mask_prob, m.span,
                               self.rngs(batch, MASK_STREAM), m.min_masks, device=fe.conv.device)

    def contextualise(self, projected: torch.Tensor, frame_mask: torch.Tensor | None,
                      pad_mask: torch.Tensor | None) -> tuple[list[torch.Tensor], list[torch.Tensor | None]]:
        """Dropout, mask_emb at masked frames, transformer -> (hidden states, FFN outputs)."""
        return self.encoder.contextualise(self.encoder.embed(projected, frame_mask), pad_mask)
