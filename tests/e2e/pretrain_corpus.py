"""A tiny synthetic corpus for the pretraining e2e tests, made by code in a second: utterances are chains of
'phones' (80-200 ms of two-formant tones, one pattern per letter), so frames carry learnable structure and
the transcript (the letters) lines up with the audio."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from edge_ssl.audio.io import save_wav
from edge_ssl.data.manifest import Utterance, write_manifest

LETTERS = "aeiostn"
FORMANTS = {c: (300 + 150 * i, 900 + 260 * ((3 * i) % 7)) for i, c in enumerate(LETTERS)}

# Overrides that make any tiny pretraining config a few-second job on this corpus.
FAST = ["data.max_batch_samples=32000", "data.max_sample_size=24000", "data.min_sample_size=8000",
        "encoder.num_layers=2", "encoder.embed_dim=64", "encoder.num_heads=2", "encoder.ffn_dim=128",
        "train.log_every=1", "train.save_every=2", "train.device=cpu"]


def make_corpus(root: Path, num: int = 14, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    utts = []
    for i in range(num):
        chunks, letters = [], []
        while sum(len(c) for c in chunks) < 16000 + 400 * i:
            c = LETTERS[rng.integers(len(LETTERS))]
            n = int(rng.integers(1280, 3200))
            t = np.arange(n) / 16000
            f1, f2 = FORMANTS[c]
            chunks.append(0.3 * np.sin(2 * np.pi * f1 * t) + 0.2 * np.sin(2 * np.pi * f2 * t))
            letters.append(c)
        wave = np.concatenate(chunks) + 0.01 * rng.standard_normal(sum(len(c) for c in chunks))
        path = root / f"u{i:02d}.wav"
        save_wav(path, wave.astype(np.float32))
        utts.append(Utterance(f"u{i:02d}", path, len(wave), " ".join(letters), "synth"))
    return write_manifest(utts, root / "train.jsonl")
