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

from edge_ssl.asr.decode.tokenizer import CharTokenizer
from edge_ssl.errors import EdgeSSLError
from edge_ssl.methods.ctc import CTCFinetuner, FinetuneModelConfig
from edge_ssl.models.ctc import CTCModel
from edge_ssl.models.speech_encoder import EncoderConfig
from edge_ssl.recipes.runner import AudioDataConfig, build_audio_data
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
class Config:
    out_dir: str = "runs/ctc_tiny"     # model.safetensors, tokens.txt, metrics.jsonl, checkpoint.pt
    data: LabeledDataConfig = field(default_factory=LabeledDataConfig)
    model: FinetuneModelConfig = field(default_factory=FinetuneModelConfig)
    # fairseq base_10h: lr 5e-5 (1e-4 for 100 h), tri-stage 10% warm-up, 40% hold, 50% decay to 5%
    optim: OptimConfig = field(default_factory=lambda: OptimConfig(
        lr=5e-5, betas=(0.9, 0.98), eps=1e-8, weight_decay=0.0, schedule="tri_stage", warmup=0.1, hold=0.4,
        final_lr_scale=0.05))
    train: TrainConfig = field(default_factory=lambda: TrainConfig(max_steps=20000, clip_norm=0.0))


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
            from edge_ssl.asr.evaluate.report import evaluate_manifest
            from edge_ssl.asr.transcribe import open_model
            s = evaluate_manifest(open_model(out / "model.safetensors"), cfg.data.valid_manifest, out / "valid",
                                  progress=False)
            log.info("valid %s: CER %.4f WER %.4f (%d utterances)", cfg.data.valid_manifest, s.cer, s.wer,
                     s.num_utterances)
    barrier(info)
    return out / "model.safetensors"
