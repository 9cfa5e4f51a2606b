import numpy as np
import pytest

from edge_ssl.audio import augment


def speech_like(n=16000, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(n) / 16000
    return (0.3 * np.sin(2 * np.pi * 220 * t) * (1 + np.sin(2 * np.pi * 3 * t)) + 0.01 * rng.standard_normal(n)).astype(np.float32)


@pytest.mark.parametrize("snr", [5.0, 20.0])
def test_noise_is_mixed_at_the_requested_snr(snr):
    wave = speech_like()
    noisy = augment.add_noise(wave, snr, "pink", np.random.default_rng(3))
    measured = 10 * np.log10(np.mean(wave ** 2) / np.mean((noisy - wave) ** 2))
    assert abs(measured - snr) < 3.0  # speech power is measured over the active part only


def test_noise_colours_differ_in_spectrum():
    rng = np.random.default_rng(0)
    slopes = {}
    for kind in augment.NOISE_KINDS:
        spec = np.abs(np.fft.rfft(augment.colored_noise(1 << 15, kind, rng))) ** 2
        low, high = spec[10:100].mean(), spec[5000:10000].mean()
        slopes[kind] = low / high
    assert slopes["white"] < slopes["pink"] < slopes["brown"]


def test_sox_chain_is_deterministic_and_keeps_the_rate():
    wave = speech_like()
    chain = augment.pitch_effect(150) + augment.reverb_effect(50, 80) + augment.telephone_effect()
    a, b = augment.sox_effects(wave, 16000, chain), augment.sox_effects(wave, 16000, chain)
    assert np.array_equal(a, b) and len(a) == len(wave)


def test_telephone_band_removes_highs_and_lows():
    white = (0.1 * np.random.default_rng(0).standard_normal(16000)).astype(np.float32)
    spec = np.abs(np.fft.rfft(augment.sox_effects(white, 16000, augment.telephone_effect()))) ** 2  # 1 Hz bins
    in_band = spec[1000:3000].mean()
    assert spec[4000:].mean() < 1e-3 * in_band and spec[:150].mean() < 1e-2 * in_band


def test_tempo_shortens_speech():
    out = augment.sox_effects(speech_like(), 16000, augment.tempo_effect(1.25))
    assert abs(len(out) - 16000 / 1.25) < 200
