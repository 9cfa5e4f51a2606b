"""Speech encoder + a linear CTC head over the character vocabulary."""
from __future__ import annotations

import torch
from torch import nn

from edge_ssl.models.speech_encoder import EncoderConfig, SpeechEncoder


class CTCModel(nn.Module):
    def __init__(self, encoder_cfg: EncoderConfig, vocab_size: int, final_dropout: float = 0.1):
        super().__init__()
        self.encoder = SpeechEncoder(encoder_cfg)
        self.drop = nn.Dropout(final_dropout)
        self.head = nn.Linear(encoder_cfg.embed_dim, vocab_size)
        self.vocab_size = vocab_size

    @property
    def downsample_rate(self) -> int:
        return self.encoder.downsample_rate

    def forward(self, wave: torch.Tensor, lengths: torch.Tensor | None = None,
                frame_mask: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
        """wave (B, S) -> (logits (B, T, V), frame lengths (B,) or None when unpadded)."""
        out = self.encoder.extract_features(wave, lengths, frame_mask=frame_mask)
        logits = self.head(self.drop(out.last_hidden_state))
        frames = None if lengths is None else self.encoder.frame_lengths(lengths)
        return logits, frames
