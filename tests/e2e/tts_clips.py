"""Real TTS clips for e2e tests: sentences spoken by one offline voice, stored as 16 kHz WAVs + a manifest."""
from __future__ import annotations

from pathlib import Path

import pytest
import soxr

from edge_ssl.audio.io import save_wav
from edge_ssl.data.manifest import Utterance, write_manifest
from edge_ssl.data.tts import Prompt, Voice, synthesize, unavailable_reason


def speak(engine: str, voice: str, sentences: list[str], folder: Path) -> Path:
    """Speak ``sentences`` with ``engine:voice`` into ``folder``; returns the manifest (skips if not installed)."""
    v = Voice(engine, voice)
    if (why := unavailable_reason(v)) is not None:
        pytest.skip(why)
    utts = []
    for i, (text, (wave, sr)) in enumerate(zip(sentences, synthesize(v, [Prompt(t, 1.0, 0.0) for t in sentences]))):
        wave = soxr.resample(wave, sr, 16000)  # (S,) at 16 kHz
        save_wav(folder / f"{voice}_{i}.wav", wave)
        utts.append(Utterance(f"{voice}_{i}", folder / f"{voice}_{i}.wav", len(wave), text))
    return write_manifest(utts, folder / "manifest.jsonl")
