import numpy as np
import pytest
import soundfile as sf
import torch

from edge_ssl.audio.io import AudioError
from edge_ssl.data.dataset import AudioDataset, collate
from edge_ssl.data.manifest import Utterance


@pytest.fixture
def utts(tmp_path):
    out = []
    for i, n in enumerate([16000, 4000, 30000]):
        p = tmp_path / f"{i}.wav"
        sf.write(p, (np.arange(n) % 1000 / 1000).astype(np.float32), 16000, subtype="FLOAT")
        out.append(Utterance(f"u{i}", p, n, f"text {i}" if i else None))
    return out


def test_items_and_collate(utts):
    ds = AudioDataset(utts)
    items = [ds[i] for i in range(3)]
    assert items[1]["wave"].shape == (4000,) and items[1]["id"] == "u1" and items[0]["text"] is None
    batch = collate(items)
    assert batch["wave"].shape == (3, 30000) and batch["wave"].dtype == torch.float32
    assert batch["lengths"].tolist() == [16000, 4000, 30000] and batch["lengths"].dtype == torch.int64
    assert batch["wave"][1, 4000:].abs().sum() == 0  # zero padding
    assert batch["indices"].tolist() == [0, 1, 2] and batch["ids"] == ["u0", "u1", "u2"]


def test_random_crop_depends_only_on_seed_epoch_index(utts):
    ds = AudioDataset(utts, max_samples=8000, seed=3)
    a = ds[2]["wave"]
    ds[0], ds[1]  # other reads change nothing
    assert torch.equal(ds[2]["wave"], a) and a.shape == (8000,)
    assert torch.equal(AudioDataset(utts, max_samples=8000, seed=3)[2]["wave"], a)  # a resumed run
    offsets = set()
    for epoch in range(6):
        ds.set_epoch(epoch)
        offsets.add(ds.crop_offset(2, 30000))
    assert len(offsets) > 3 and all(0 <= o <= 22000 for o in offsets)
    assert ds[1]["wave"].shape == (4000,)  # short items are not padded or cropped
    start = AudioDataset(utts, max_samples=8000, crop="start")[2]["wave"]
    assert torch.equal(start, torch.from_numpy((np.arange(8000) % 1000 / 1000).astype(np.float32)))
    assert ds.lengths == [8000, 4000, 8000]


def test_load_error_names_the_file(utts, tmp_path):
    utts[1].audio_path.write_bytes(b"broken")
    with pytest.raises(AudioError, match="1.wav"):
        AudioDataset(utts)[1]


def test_random_lowpass_removes_the_high_band_repeatably_and_is_checked(tmp_path):
    t = np.arange(16000) / 16000
    p = tmp_path / "tones.wav"
    sf.write(p, (0.3 * np.sin(2 * np.pi * 1000 * t) + 0.3 * np.sin(2 * np.pi * 7000 * t)).astype(np.float32), 16000,
             subtype="FLOAT")
    utts = [Utterance(f"u{i}", p, 16000) for i in range(8)]

    def band_energy(wave, lo, hi):
        spec = np.abs(np.fft.rfft(wave.numpy())) ** 2
        return spec[lo:hi].sum() / spec.sum()  # 1 Hz bins: 1 s at 16 kHz

    ds = AudioDataset(utts, seed=3, lowpass=(0.5, 4000.0, 5500.0))
    filtered = [band_energy(ds[i]["wave"], 5500, 8001) < 1e-6 for i in range(8)]
    assert 0 < sum(filtered) < 8  # about half, and only the 7 kHz tone goes
    assert all(band_energy(ds[i]["wave"], 900, 1100) > 0.45 for i in range(8))
    again = AudioDataset(utts, seed=3, lowpass=(0.5, 4000.0, 5500.0))
    assert all(torch.equal(ds[i]["wave"], again[i]["wave"]) for i in range(8))  # resumes see the same audio
    with pytest.raises(ValueError, match="lowpass_hz"):
        AudioDataset(utts, lowpass=(0.5, 6000.0, 4000.0))
