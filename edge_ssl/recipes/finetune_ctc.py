"""CTC fine-tuning of a speech encoder on labeled audio (wav2vec 2.0 / HuBERT fine-tuning, fairseq's
``audio_finetuning`` task with the ``ctc`` criterion).

    init_from (teacher / student / ctc model file, or nothing: random init = the supervised baseline)
      -> CTCModel(encoder, linear head over the character vocabulary)
      -> train on (a deterministic fraction of) a labeled manifest:
         feature extractor frozen (fairseq feature_grad_mult 0), transformer frozen for the first
         ``freeze_encoder_steps`` updates (freeze_finetune_updates), time masking with ``mask_emb`` and
         channel masking (SpecAugment-like), tri-stage lr
      -> out_dir/model.safetensors (kind "ctc", vocab) + tokens.txt (+ valid/summary.json if a valid manifest is set)
"""
from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from edge_ssl.asr.tokenizer import CharTokenizer
from edge_ssl.audio.masking import batch_span_mask, utterance_rng
from edge_ssl.errors import EdgeSSLError
from edge_ssl.models.ctc import CTCModel
from edge_ssl.models.speech_encoder import EncoderConfig, tiny
from edge_ssl.objectives.ctc import ctc_loss
from edge_ssl.recipes.common import AudioDataConfig, build_audio_data
from edge_ssl.training.distributed import DistInfo, barrier
from edge_ssl.training.loop import TrainConfig, fit, plot_metrics
from edge_ssl.training.optim import OptimConfig

log = logging.getLogger(__name__)


@dataclass
class LabeledDataConfig(AudioDataConfig):
    max_sample_size: int = 0          # no cropping: a crop would cut the audio away from its transcript
    labeled_fraction: float = 1.0     # use this fraction of the labeled utterances (low-label experiments)
    subset_seed: int = 0              # the subset depends only on (manifest ids, fraction, this seed)

    def validate(self) -> None:
        if not 0 < self.labeled_fraction <= 1:
            raise ValueError(f"labeled_fraction must be in (0, 1], got {self.labeled_fraction}")


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


@dataclass
class Config:
    out_dir: str = "runs/ctc_tiny"     # model.safetensors, tokens.txt, metrics.jsonl, checkpoint.pt
    data: LabeledDataConfig = field(default_factory=LabeledDataConfig)
    model: FinetuneModelConfig = field(default_factory=FinetuneModelConfig)
    # fairseq base_10h: lr 5e-5 (1e-4 for 100 h), tri-stage 10% warm-up, 40% hold, 50% decay to 5%
    optim: OptimConfig = field(default_factory=lambda: OptimConfig(
        lr=5e-5, betas=(0.9, 0.98), eps=1e-8, weight_decay=0.0, schedule="tri_stage", warmup=0.1, hold=0.4,
        final_lr_scale=0.05))
    train: TrainConfig = field(default_factory=lambda: TrainConfig(max_steps=20000, clip_norm=0.0))


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


def select_labeled(manifest: str, cfg: LabeledDataConfig) -> list:
    """The labeled utterances to train on: all with a transcript, then a deterministic ``labeled_fraction``."""
    from edge_ssl.data.manifest import check_audio, read_manifest

    utts = read_manifest(manifest)
    labeled = [u for u in utts if u.text is not None and u.text.strip()]
    if not labeled:
        raise EdgeSSLError(f"{manifest}: no utterance has a transcript ('text'); CTC fine-tuning needs labels "
                           "(pretraining uses unlabeled audio: edge-ssl pretrain ...)")
    if len(labeled) < len(utts):
        log.warning("%s: %d of %d utterances have no transcript and are skipped", manifest,
                    len(utts) - len(labeled), len(utts))
    if cfg.labeled_fraction < 1:
        labeled.sort(key=lambda u: u.id)
        order = np.random.default_rng(cfg.subset_seed).permutation(len(labeled))
        labeled = [labeled[i] for i in sorted(order[:max(1, round(cfg.labeled_fraction * len(labeled)))])]
    labeled = check_audio(labeled)  # lengths checked against the headers; unreadable files skipped, up front
    fits = [u for u in labeled if u.num_samples >= cfg.min_sample_size
            and (cfg.max_sample_size <= 0 or u.num_samples <= cfg.max_sample_size)]
    if len(fits) < len(labeled):
        log.info("skipping %d utterances outside [min_sample_size, max_sample_size]", len(labeled) - len(fits))
    if not fits:
        raise EdgeSSLError(f"{manifest}: no labeled utterance within the sample-size limits")
    log.info("training on %d labeled utterances (%.2f h, fraction %.3g)", len(fits),
             sum(u.num_samples for u in fits) / 16000 / 3600, cfg.labeled_fraction)
    return fits


def build_model(cfg: FinetuneModelConfig, vocab_size: int) -> tuple[CTCModel, EncoderConfig]:
    """A CTC model whose encoder comes from ``init_from`` (any speech_encoder/ctc file) or is random."""
    from edge_ssl.models import store

    regularisation = dict(dropout=cfg.dropout, attention_dropout=cfg.attention_dropout,
                          activation_dropout=cfg.activation_dropout, feature_dropout=cfg.feature_dropout,
                          layerdrop=cfg.layerdrop)
    if not cfg.init_from:
        enc_cfg = dataclasses.replace(cfg.encoder, **regularisation)
        log.info("no init_from: training the encoder from random initialisation (supervised baseline)")
        return CTCModel(enc_cfg, vocab_size, cfg.final_dropout), enc_cfg
    meta = store.read_model_meta(cfg.init_from)
    if meta.get("kind") not in ("speech_encoder", "ctc"):
        raise EdgeSSLError(f"{cfg.init_from}: cannot fine-tune a {meta.get('kind')!r} model "
                           "(expected speech_encoder or ctc)")
    enc_cfg = dataclasses.replace(store.encoder_config_from(meta, cfg.init_from), **regularisation)
    model = CTCModel(enc_cfg, vocab_size, cfg.final_dropout)
    state = store.load_state(cfg.init_from)
    if meta["kind"] == "ctc":  # keep the encoder, train a fresh head
        state = {k[len("encoder."):]: v for k, v in state.items() if k.startswith("encoder.")}
    store.load_into(model.encoder, state, cfg.init_from)
    log.info("encoder initialised from %s (%s)", cfg.init_from, meta["kind"])
    return model, enc_cfg


def train(cfg: Config, info: DistInfo) -> Path:
    out = Path(cfg.out_dir)
    tok = CharTokenizer()
    subset = out / "train_labeled.jsonl"  # the exact utterances trained on, kept for reproducibility
    if info.is_main:
        from edge_ssl.data.manifest import write_manifest
        write_manifest(select_labeled(cfg.data.train_manifest, cfg.data), subset)
    barrier(info)
    dataset, sampler, collate = build_audio_data(cfg.data, info, cfg.train.seed, manifest=str(subset), crop="start")
    targets = [tok.encode(u.text, source=u.id) for u in dataset.utts]  # unknown characters are logged, dropped

    model, enc_cfg = build_model(cfg.model, tok.vocab_size)
    module = CTCFinetuner(model, targets, cfg.model, cfg.train.seed)
    train_cfg = cfg.train
    if info.distributed and (cfg.model.freeze_encoder_steps > 0 or cfg.model.layerdrop > 0):
        # frozen or dropped layers get no gradient in some steps: DDP must be told to expect that
        train_cfg = dataclasses.replace(train_cfg, find_unused_parameters=True)
        log.info("DDP: find_unused_parameters=True (frozen encoder steps or layerdrop)")
    fit(module, dataset, sampler, collate, cfg.optim, train_cfg, out, info)

    if info.is_main:
        from edge_ssl.models.store import save_model
        save_model(model, out / "model.safetensors", "ctc", {"encoder": enc_cfg}, vocab=list(tok.tokens))
        tok.save(out / "tokens.txt")
        plot_metrics(out / "metrics.jsonl", out / "loss.png", ("loss", "lr"))
        log.info("saved %s", out / "model.safetensors")
        if cfg.data.valid_manifest:
            from edge_ssl.asr.evaluate import evaluate_manifest
            from edge_ssl.asr.transcribe import open_model
            s = evaluate_manifest(open_model(out / "model.safetensors"), cfg.data.valid_manifest, out / "valid",
                                  progress=False)
            log.info("valid %s: CER %.4f WER %.4f (%d utterances)", cfg.data.valid_manifest, s.cer, s.wer,
                     s.num_utterances)
    barrier(info)
    return out / "model.safetensors"
