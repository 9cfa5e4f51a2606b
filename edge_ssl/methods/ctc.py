"""CTC fine-tuning's training module (fairseq ``wav2vec2_asr``): the model section of the recipe config and
the regime around a ``CTCModel``: the conv stack frozen, the transformer frozen for the first
``freeze_encoder_steps`` updates, time masking with ``mask_emb`` and channel masking (SpecAugment as fairseq
applies it), CTC loss against each utterance's token ids."""
from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

from edge_ssl.audio.masking import batch_span_mask, utterance_rng
from edge_ssl.models.ctc import CTCModel
from edge_ssl.models.speech_encoder import EncoderConfig, tiny
from edge_ssl.objectives.ctc import ctc_loss


@dataclass
class MaskingConfig:
    mask_prob: float = 0.65           # time masking: mask_prob * T / mask_length spans per utterance (fairseq)
    mask_length: int = 10             # frames per time span (200 ms)
    min_masks: int = 2                # fairseq apply_mask uses at least 2 time spans
    mask_channel_prob: float = 0.5    # channel masking: mask_channel_prob * C / mask_channel_length spans
    mask_channel_length: int = 64     # channels per span (zeroed for all frames of the utterance)


@dataclass
class FinetuneModelConfig:
    init_from: str = ""                # model file (speech_encoder or ctc) to start from; "" = random init
    encoder: EncoderConfig = field(default_factory=tiny)  # architecture when init_from is empty
    # Fine-tuning regularisation, applied over the file's values (fairseq Wav2Vec2AsrConfig overrides):
    dropout: float = 0.0
    attention_dropout: float = 0.0
    activation_dropout: float = 0.1
    feature_dropout: float = 0.0       # fairseq dropout_input
    layerdrop: float = 0.1
    final_dropout: float = 0.0         # before the CTC head
    freeze_feature_extractor: bool = True  # fairseq feature_grad_mult 0.0: the conv stack never trains
    freeze_encoder_steps: int = 0      # only the head trains for this many updates (freeze_finetune_updates)
    masking: MaskingConfig = field(default_factory=MaskingConfig)


class CTCFinetuner(nn.Module):
    """CTCModel + the fine-tuning regime; ``forward(batch) -> (loss, logs)`` for ``training.loop.fit``."""

    def __init__(self, model: CTCModel, targets: list[list[int]], cfg: FinetuneModelConfig, seed: int = 0):
        super().__init__()
        self.model, self.targets, self.cfg, self.seed = model, targets, cfg, seed  # targets[dataset index] = ids
        if cfg.freeze_feature_extractor:
            model.encoder.freeze("feature_extractor")
        if cfg.masking.mask_prob <= 0:  # mask_emb unused: keep it out of the optimiser (and DDP's reduction)
            model.encoder.freeze("mask_emb")
        # Saved with the model so a resumed run knows whether the encoder is still frozen.
        self.register_buffer("num_updates", torch.zeros((), dtype=torch.long))

    def on_update(self, step: int) -> None:
        self.num_updates.fill_(step)

    def masks(self, x: torch.Tensor, frames: torch.Tensor, indices: list[int]
              ) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        """(B, T, C) features -> time mask (B, T) and channel keep-mask (B, 1, C), or None when off.

        Spans follow fairseq's compute_mask_indices; each utterance's draw depends only on
        (seed, update, utterance index), so masks do not change with batching or the number of ranks."""
        m, (B, T, C) = self.cfg.masking, x.shape
        step = int(self.num_updates)
        time = chan = None
        if m.mask_prob > 0:
            rngs = [utterance_rng(self.seed, step, i, stream=0) for i in indices]
            time = batch_span_mask(frames.tolist(), T, m.mask_prob, m.mask_length, rngs, m.min_masks, x.device)
        if m.mask_channel_prob > 0:
            rngs = [utterance_rng(self.seed, step, i, stream=1) for i in indices]
            dropped = batch_span_mask([C] * B, C, m.mask_channel_prob, m.mask_channel_length, rngs, 0, x.device)
            chan = dropped.logical_not().to(x.dtype)[:, None, :]
        return time, chan

    def forward(self, batch: dict) -> tuple[torch.Tensor, dict[str, float]]:
        enc = self.model.encoder
        wave, lengths = batch["wave"], batch["lengths"]                       # (B, S), (B,)
        frames = enc.frame_lengths(lengths)                                   # (B,)
        tune = int(self.num_updates) >= self.cfg.freeze_encoder_steps
        with torch.set_grad_enabled(tune and torch.is_grad_enabled()):
            conv = enc.features(wave, lengths, grad_mult=0.0 if self.cfg.freeze_feature_extractor else 1.0)
            pad_mask = enc.padding_mask(lengths, conv.shape[1])               # (B, T)
            x = enc.project(enc.normalize_features(conv))                     # (B, T, C)
            time = chan = None
            if self.training:
                time, chan = self.masks(x, frames, batch["indices"].tolist())
            hidden, _ = enc.contextualise(enc.embed(x, time, chan), pad_mask)
        logits = self.model.head(self.model.drop(hidden[-1]))                 # (B, T, V)
        targets = [self.targets[i] for i in batch["indices"].tolist()]
        loss = ctc_loss(logits, frames, targets, blank_id=0)
        n_tokens = sum(len(t) for t in targets)
        return loss, {"loss_per_token": loss.item() * len(targets) / max(1, n_tokens), "frozen": float(not tune)}
