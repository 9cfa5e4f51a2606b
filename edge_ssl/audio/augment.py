"""Waveform augmentation for the synthetic corpus: sox effects (tempo, pitch, reverb, telephone band) and
additive coloured noise at a chosen SNR.

Everything is deterministic: sox runs with ``-R`` (repeatable) and no dither, and noise comes from the
caller's seeded generator, so the same plan gives the same bytes.
"""
from __future__ import annotations

import shutil
import subprocess
from typing import Sequence

import numpy as np

from edge_ssl.errors import EdgeSSLError

NOISE_KINDS = ("white", "pink", "brown")


def tempo_effect(rate: float) -> list[str]:
    """Speed speech up by ``rate`` keeping its pitch (WSOLA)."""
    return ["tempo", "-s", f"{rate:.4f}"]


def pitch_effect(cents: float) -> list[str]:
    return ["pitch", f"{cents:.1f}"]


def reverb_effect(reverberance: float, room_scale: float) -> list[str]:
    """sox's freeverb: reverberance and room scale in percent; 50% HF damping, 20 ms pre-delay."""
    return ["reverb", f"{reverberance:.1f}", "50", f"{room_scale:.1f}", "100", "20"]


def telephone_effect() -> list[str]:
    """A narrow-band telephone channel: 8 kHz sampling, 300-3400 Hz pass band, then back up."""
    return ["rate", "8000", "sinc", "300-3400", "rate", "16000"]


def sox_effects(wave: np.ndarray, sample_rate: int, effects: Sequence[str]) -> np.ndarray:
    """Run ``wave`` (S,) float32 through a sox effects chain; output at the same sample rate."""
    if not effects:
        return wave
    if shutil.which("sox") is None:
        raise EdgeSSLError("sox not installed (apt-get install sox)")
    fmt = ["-t", "raw", "-e", "floating-point", "-b", "32", "-c", "1", "-r", str(sample_rate)]
    cmd = ["sox", "-R", "-D", "-V1", *fmt, "-", *fmt, "-", *effects]  # sox adds a final rate effect if needed
    proc = subprocess.run(cmd, input=np.ascontiguousarray(wave, dtype="<f4").tobytes(), capture_output=True)
    if proc.returncode != 0:
        raise EdgeSSLError(f"sox {' '.join(effects)} failed: {proc.stderr.decode(errors='replace').strip()[-300:]}")
    return np.frombuffer(proc.stdout, dtype="<f4").astype(np.float32)


def colored_noise(num_samples: int, kind: str, rng: np.random.Generator) -> np.ndarray:
    """Unit-RMS noise with a 1/f^a power spectrum: white a=0, pink a=1, brown a=2."""
    alpha = {"white": 0.0, "pink": 1.0, "brown": 2.0}[kind]
    if alpha == 0.0:
        noise = rng.standard_normal(num_samples)
        return (noise / (np.sqrt(np.mean(noise ** 2)) + 1e-12)).astype(np.float32)
    spectrum = np.fft.rfft(rng.standard_normal(num_samples))
    f = np.arange(len(spectrum), dtype=np.float64)
    f[0] = 1.0
    noise = np.fft.irfft(spectrum / f ** (alpha / 2), n=num_samples)
    return (noise / (np.sqrt(np.mean(noise ** 2)) + 1e-12)).astype(np.float32)


def add_noise(wave: np.ndarray, snr_db: float, kind: str, rng: np.random.Generator) -> np.ndarray:
    """Mix noise in at ``snr_db`` relative to the speech power (measured over the non-silent part)."""
    active = wave[np.abs(wave) > 0.02 * np.abs(wave).max()] if np.abs(wave).max() > 0 else wave
    speech_rms = float(np.sqrt(np.mean(active.astype(np.float64) ** 2))) if len(active) else 0.0
    noise = colored_noise(len(wave), kind, rng) * speech_rms * 10 ** (-snr_db / 20)
    return (wave + noise).astype(np.float32)


def set_peak(wave: np.ndarray, peak_db: float) -> np.ndarray:
    """Scale so the loudest sample sits at ``peak_db`` dBFS (level variety, never clipping)."""
    peak = float(np.abs(wave).max())
    return wave if peak == 0 else (wave * (10 ** (peak_db / 20) / peak)).astype(np.float32)


def lowpass(wave: np.ndarray, cutoff_hz: float, sample_rate: int = 16000) -> np.ndarray:
    """Remove everything above ``cutoff_hz`` (an FFT brick wall): full-band audio made to look like a lower
    sample rate's, e.g. TTS beside 11 kHz game audio whose energy stops at 5.5 kHz."""
    spectrum = np.fft.rfft(wave.astype(np.float64))
    spectrum[int(np.ceil(cutoff_hz * len(wave) / sample_rate)):] = 0
    return np.fft.irfft(spectrum, n=len(wave)).astype(np.float32)
