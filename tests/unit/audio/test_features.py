import numpy as np
import torch

from edge_ssl.audio.features import MFCC, FeatureConfig, KaldiFbank, add_deltas, kaldi_mel_filters


def reference_logmel(x: np.ndarray, cfg: FeatureConfig) -> np.ndarray:
    """Kaldi's per-frame recipe with numpy's FFT, frame by frame (an independent path from the conv kernel)."""
    n = cfg.win_length
    window = (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n) / (n - 1))) ** 0.85
    mel = kaldi_mel_filters(cfg).double().numpy()
    frames = []
    for t in range(1 + (len(x) - n) // cfg.hop_length):
        f = x[t * cfg.hop_length: t * cfg.hop_length + n].astype(np.float64)
        f = f - f.mean()
        f = np.concatenate([[f[0] * (1 - cfg.preemphasis)], f[1:] - cfg.preemphasis * f[:-1]]) * window
        power = np.abs(np.fft.rfft(f, cfg.n_fft)) ** 2
        frames.append(np.log(np.maximum(power @ mel, np.finfo(np.float32).eps)))
    return np.array(frames)


def test_logmel_matches_a_per_frame_fft_reference():
    x = np.random.default_rng(0).standard_normal(8000).astype(np.float32) * 0.1
    cfg = FeatureConfig(n_mels=40)
    ours = KaldiFbank(cfg)(torch.from_numpy(x)[None])[0].double().numpy()
    ref = reference_logmel(x, cfg)
    assert ours.shape == ref.shape == (1 + (8000 - 400) // 160, 40)
    np.testing.assert_allclose(ours, ref, atol=2e-3)


def test_mfcc_is_39_dims_at_100_hz_and_batch_consistent():
    m = MFCC()
    x = torch.randn(2, 16000)
    y = m(x)
    assert y.shape == (2, 98, 39) and m.dim == 39 and m.cfg.frame_rate == 100
    torch.testing.assert_close(y[1:], m(x[1:]), atol=1e-4, rtol=1e-4)
    assert m.frame_lengths(torch.tensor([16000])).item() == 98


def test_deltas_of_a_ramp_are_its_slope():
    t = torch.arange(20, dtype=torch.float32)
    x = (3.0 * t)[None, :, None]                       # (1, T, 1)
    d = add_deltas(x, order=2)
    assert d.shape == (1, 20, 3)
    torch.testing.assert_close(d[0, 4:-4, 1], torch.full((12,), 3.0))   # interior: exact slope
    torch.testing.assert_close(d[0, 6:-6, 2], torch.zeros(8), atol=1e-5, rtol=0)


def test_features_export_without_stft():
    ep = torch.export.export(MFCC().eval(), (torch.randn(1, 4000),))
    ops = {str(n.target) for n in ep.graph.nodes if n.op == "call_function"}
    assert not any("stft" in o or "fft" in o or "complex" in o for o in ops)
    torch.testing.assert_close(ep.module()(torch.ones(1, 4000) * 0.1), MFCC()(torch.ones(1, 4000) * 0.1))
