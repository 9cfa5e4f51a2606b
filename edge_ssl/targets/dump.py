"""The ``hubert-targets`` pipeline: features -> k-means on a sample -> labels for whole manifests -> purity.

Iteration 1 clusters 39-dim MFCCs at 100 Hz (``features="mfcc"``); iteration 2 clusters the output of
transformer layer ``layer`` of the iteration-1 model at its 50 Hz frame rate (``features=<model file>``).
Outputs in ``out_dir``: ``<manifest stem>.km`` per manifest (one line per utterance), ``kmeans.safetensors``
(centroids) and ``targets.json`` (label_rate, num_clusters, features, purity per manifest).

Purity needs a frame-level character reference. Without forced alignment, characters (spaces as ``|``)
are spread uniformly over the voiced region of each utterance (first to last frame whose energy is within
35 dB of the utterance's peak); frames outside it are labelled silence. It is rough, but the same for
both iterations, so the comparison between them is fair.
"""
from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from edge_ssl.audio.features import MFCC
from edge_ssl.audio.io import load_audio
from edge_ssl.data.manifest import Utterance, read_manifest
from edge_ssl.errors import EdgeSSLError
from edge_ssl.atomic import atomic_write_text
from edge_ssl.targets import kmeans
from edge_ssl.targets.labels import SAMPLE_RATE, write_labels
from edge_ssl.threads import one_thread

log = logging.getLogger(__name__)

SILENCE = 0  # reference id of non-speech frames; characters use their code point


@dataclass
class TargetsConfig:
    features: str = "mfcc"        # "mfcc" (iteration 1) or a model file from a pretraining run (iteration 2)
    layer: int = 6                # model features: output of this transformer layer (1-based; HuBERT base: 6)
    num_clusters: int = 100       # iteration 1: 100; iteration 2: 500
    fit_fraction: float = 0.1     # share of the first manifest's utterances k-means is fitted on
    seed: int = 0
    n_init: int = 20              # fairseq simple_kmeans settings
    batch_size: int = 10_000


FeatureFn = Callable[[np.ndarray], np.ndarray]  # wave (S,) -> (T, D)


def feature_fn(cfg: TargetsConfig) -> tuple[FeatureFn, float, str]:
    """(wave -> frames function, label rate in Hz, description)."""
    if cfg.features == "mfcc":
        mfcc = MFCC().eval()

        @torch.no_grad()
        def run(wave: np.ndarray) -> np.ndarray:
            return mfcc(torch.from_numpy(wave)[None])[0].numpy()       # (T, 39) at 100 Hz
        return run, mfcc.cfg.frame_rate, "mfcc39"

    from edge_ssl.models.store import load_model

    path = Path(cfg.features)
    if not path.is_file():
        raise EdgeSSLError(f"features: {cfg.features!r} is neither 'mfcc' nor an existing model file")
    model, meta = load_model(path)
    if meta.get("kind") != "speech_encoder":
        raise EdgeSSLError(f"{path}: expected a speech_encoder model (a pretraining run's model file), "
                           f"got kind {meta.get('kind')!r}")
    n_layers = model.cfg.num_layers
    if not 1 <= cfg.layer <= n_layers:
        raise EdgeSSLError(f"layer={cfg.layer} is outside 1..{n_layers} for {path}")

    @torch.no_grad()
    def run_model(wave: np.ndarray) -> np.ndarray:
        out = model.extract_features(torch.from_numpy(wave)[None], num_layers=cfg.layer)
        return out.hidden_states[cfg.layer][0].numpy()                  # (T, C) at 50 Hz
    return run_model, SAMPLE_RATE / model.downsample_rate, f"{path.name}:layer{cfg.layer}"


def char_frames(text: str, wave: np.ndarray, num_frames: int, label_rate: float) -> np.ndarray:
    """(num_frames,) reference ids: characters spread uniformly over the voiced region, SILENCE elsewhere."""
    from edge_ssl.asr.decode.tokenizer import normalize_text

    chars = [ord(c) for c in normalize_text(text).replace(" ", "|")]
    ref = np.full(num_frames, SILENCE, dtype=np.int64)
    if not chars or num_frames == 0:
        return ref
    hop = int(round(SAMPLE_RATE / label_rate))
    padded = np.zeros(num_frames * hop, dtype=np.float64)
    padded[:min(len(wave), len(padded))] = wave[:len(padded)]
    energy = (padded.reshape(num_frames, hop) ** 2).mean(axis=1)          # (num_frames,)
    voiced = np.flatnonzero(energy > energy.max() * 10 ** (-35 / 10))
    first, last = (voiced[0], voiced[-1] + 1) if len(voiced) else (0, num_frames)
    pos = ((np.arange(first, last) - first) * len(chars) / (last - first)).astype(int)
    ref[first:last] = np.asarray(chars)[pos]
    return ref


def _each(utts: list[Utterance], fn: FeatureFn, errors: list[str], known: dict[int, np.ndarray] | None = None):
    """(utterance, wave, features) per utterance; ``known`` holds features already computed, by index."""
    for i, utt in enumerate(utts):
        try:
            wave = load_audio(utt.audio_path)
            yield utt, wave, known[i] if known and i in known else fn(wave)
        except EdgeSSLError as e:  # report, go on, fail at the end (a label file must align)
            errors.append(f"{utt.id}: {e}")
            log.warning("skipping %s: %s", utt.id, e)


def build_targets(manifests: list[str | Path], out_dir: str | Path, cfg: TargetsConfig) -> dict:
    """Fit on a sample of ``manifests[0]``, label every manifest; returns the ``targets.json`` report.

    Runs on one thread (``edge_ssl.threads``): every step works on one utterance's small arrays."""
    with one_thread():
        return _build_targets(manifests, out_dir, cfg)


def _build_targets(manifests: list[str | Path], out_dir: str | Path, cfg: TargetsConfig) -> dict:
    if not manifests:
        raise EdgeSSLError("give at least one manifest (the first one is the k-means fitting set)")
    out = Path(out_dir)
    fn, label_rate, desc = feature_fn(cfg)
    sets = {Path(m).stem: read_manifest(m) for m in manifests}
    if len(sets) != len(manifests):
        raise EdgeSSLError("manifests must have distinct file names (labels are written as <stem>.km)")
    fit_utts = next(iter(sets.values()))
    pick = kmeans.sample_utterances(len(fit_utts), cfg.fit_fraction, cfg.seed)
    errors: list[str] = []
    sample = [f for _, _, f in _each([fit_utts[i] for i in pick], fn, errors)]
    if errors:
        raise EdgeSSLError(f"{len(errors)} bad utterance(s) in the fitting sample: {'; '.join(errors[:5])}")
    fitted = dict(zip(pick.tolist(), sample))  # the dump of manifests[0] reuses these features
    centroids = kmeans.fit_kmeans(sample, cfg.num_clusters, cfg.seed, cfg.batch_size, cfg.n_init)

    report = {"features": desc, "label_rate": label_rate, "num_clusters": cfg.num_clusters,
              "fit_utterances": len(pick), "fit_frames": int(sum(len(s) for s in sample)),
              "config": asdict(cfg), "manifests": {}}
    labels_by_set = {}
    for n, (name, utts) in enumerate(sets.items()):
        labels, refs, hyps = [], [], []
        for utt, wave, feats in _each(utts, fn, errors, fitted if n == 0 else None):
            lab = kmeans.assign(feats, centroids)
            labels.append(lab)
            if utt.text:
                refs.append(char_frames(utt.text, wave, len(lab), label_rate))
                hyps.append(lab)
        labels_by_set[name] = labels
        entry = {"manifest": str(manifests[list(sets).index(name)]), "utterances": len(utts)}
        if refs:
            entry.update(kmeans.purity(np.concatenate(refs), np.concatenate(hyps)))
        report["manifests"][name] = entry
        log.info("%s: %s", name, entry)
    if errors:
        raise EdgeSSLError(f"{len(errors)} bad utterance(s); no labels written: {'; '.join(errors[:5])}")
    for name, labels in labels_by_set.items():
        write_labels(out / f"{name}.km", labels)
    kmeans.save_centroids(out / "kmeans.safetensors", centroids,
                          {"features": desc, "label_rate": str(label_rate), "num_clusters": str(cfg.num_clusters)})
    atomic_write_text(out / "targets.json", json.dumps(report, indent=2) + "\n")
    return report
