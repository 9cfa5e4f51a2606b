"""Audio for calibration, golden vectors and verification: manifest utterances or files, clipped to range."""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from edge_ssl.errors import EdgeSSLError

log = logging.getLogger(__name__)


def load_clip(path: str | Path, max_samples: int, sample_rate: int = 16000) -> np.ndarray:
    from edge_ssl.audio.io import load_audio

    return load_audio(path, sample_rate=sample_rate)[:max_samples]  # (S,)


def manifest_items(manifest: str | Path, limit: int, min_samples: int, max_samples: int
                   ) -> list[tuple[str, np.ndarray, str | None]]:
    """Up to ``limit`` (id, wave (S,), text|None) from a manifest; unreadable or too-short items are
    logged and skipped (a batch job reports bad items and goes on)."""
    from edge_ssl.data.manifest import read_manifest

    out = []
    for utt in read_manifest(manifest, lengths=False):
        if len(out) >= limit:
            break
        try:
            wave = load_clip(utt.audio_path, max_samples)
        except EdgeSSLError as e:
            log.warning("skipping %s: %s", utt.id, e)
            continue
        if len(wave) < min_samples:
            log.warning("skipping %s: %d samples < %d", utt.id, len(wave), min_samples)
            continue
        out.append((utt.id, wave, utt.text))
    if not out:
        raise EdgeSSLError(f"{manifest}: no usable utterances (all unreadable or shorter than {min_samples} samples)")
    return out


def file_items(paths: list[str | Path], max_samples: int) -> list[tuple[str, np.ndarray, None]]:
    return [(Path(p).stem, load_clip(p, max_samples), None) for p in paths]


def test_signal(num_samples: int = 32000, seed: int = 0) -> np.ndarray:
    """A deterministic speech-band stand-in (two chirps + noise) when no audio is given: golden vectors then
    still check the runtime, though not the transcript."""
    t = np.arange(num_samples, dtype=np.float64) / 16000
    rng = np.random.default_rng(seed)
    wave = 0.3 * np.sin(2 * np.pi * (200 + 400 * t) * t) + 0.2 * np.sin(2 * np.pi * (1200 - 150 * t) * t)
    return (wave + 0.02 * rng.standard_normal(num_samples)).astype(np.float32)
