import numpy as np
import pytest
import torch

from edge_ssl.models.logmel import LogMel, htk_mel_filters
from edge_ssl.models.speech_encoder import build_encoder, tiny, tiny_logmel


def reference_logmel(wave: np.ndarray, n_mels: int = 80) -> np.ndarray:
    """Textbook framing + Hann + rFFT power + HTK mel + log, in float64 numpy: (S,) -> (n_mels, T)."""
    x = wave.astype(np.float64) * 32768.0
    T = (len(x) - 400) // 160 + 1
    frames = np.stack([x[t * 160: t * 160 + 400] for t in range(T)])          # (T, 400)
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(400) / 400)
    power = np.abs(np.fft.rfft(frames * window, axis=1)) ** 2                 # (T, 201)
    fb = htk_mel_filters(201, n_mels, 16000).double().numpy()                 # (201, n_mels)
    return np.log(power @ fb + 1.0).T


def test_logmel_matches_numpy_stft():
    rng = np.random.default_rng(0)
    t = np.arange(8000) / 16000
    wave = 0.3 * np.sin(2 * np.pi * 440 * t) + 0.01 * rng.standard_normal(8000)
    out = LogMel()(torch.tensor(wave, dtype=torch.float32).reshape(1, 1, -1))[0].double().numpy()
    ref = reference_logmel(wave)
    assert out.shape == ref.shape == (80, 48)
    np.testing.assert_allclose(out, ref, atol=2e-3, rtol=1e-4)
    # the 440 Hz tone lands in the mel band that covers 440 Hz
    assert np.abs(ref.mean(1).argmax() - htk_mel_filters(201, 80, 16000)[int(440 / 40)].argmax()) <= 1


def test_filterbank_covers_the_band_with_triangles():
    fb = htk_mel_filters(201, 80, 16000)
    assert fb.shape == (201, 80) and fb.min() >= 0 and fb.max() <= 1
    assert (fb.sum(0) > 0).all()                  # no empty filter at 80 bins over 201 frequencies
    peaks = fb.argmax(0)
    assert (peaks[1:] >= peaks[:-1]).all()        # centres rise with the filter index


def test_logmel_encoder_geometry():  # padded-batch equality: test_speech_encoder.py
    m = build_encoder(tiny_logmel())
    assert m.downsample_rate == 320 and m.receptive_field == 1040
    assert not any(n.startswith("feature_extractor.logmel") for n, _ in m.named_parameters())


def test_unknown_frontend_is_refused():
    with pytest.raises(ValueError, match="frontend"):
        build_encoder(tiny(frontend="mfcc"))
