import numpy as np
import pytest
import torch

from edge_ssl.data.dataset import AudioDataset, collate
from edge_ssl.data.manifest import Utterance
from edge_ssl.objectives.hubert import IGNORE
from edge_ssl.targets.kmeans import assign, purity
from edge_ssl.targets.labels import LabelCollate, LabeledAudioDataset, LabelError, read_labels, write_labels


def utts(tmp_path, lengths):
    from edge_ssl.audio.io import save_wav
    out = []
    for i, n in enumerate(lengths):
        p = tmp_path / f"{i}.wav"
        save_wav(p, (np.arange(n) / n).astype(np.float32) * 0.5)  # a ramp: the crop start is readable
        out.append(Utterance(f"u{i}", p, n, "a b", None))
    return out


def test_label_file_must_align_with_the_manifest(tmp_path):
    us = utts(tmp_path, [16000, 8000])
    path = tmp_path / "l.km"
    write_labels(path, [np.arange(100) % 7, np.arange(50) % 7])
    labels = read_labels(path, us, label_rate=100, num_classes=7)
    assert labels["u1"].tolist() == (np.arange(50) % 7).tolist()
    with pytest.raises(LabelError, match="1 lines but the manifest has 2"):
        write_labels(path, [np.arange(100)])
        read_labels(path, us, 100)
    write_labels(path, [np.arange(100) % 7, np.arange(80) % 7])      # 0.8 s of labels for 0.5 s of audio
    with pytest.raises(LabelError, match=r"l.km:2: 80 labels .* expected ~50 at 100 Hz"):
        read_labels(path, us, 100)
    write_labels(path, [np.arange(100) % 7, np.arange(50) % 9])
    with pytest.raises(LabelError, match="out of range"):
        read_labels(path, us, 100, num_classes=7)


def test_labels_are_cropped_with_the_audio(tmp_path):
    us = utts(tmp_path, [32000, 8000])
    labels = {"u0": np.arange(200), "u1": np.arange(50)}              # label i covers samples [160 i, 160 i + 160)
    ds = LabeledAudioDataset(AudioDataset(us, max_samples=16000, crop="random", seed=3), labels, 100.0)
    item = ds[0]
    start = round(float(item["wave"][0]) / 0.5 * 32000)               # the ramp tells where the crop began
    assert len(item["labels"]) == 100
    assert abs(int(item["labels"][0]) - start / 160) <= 1
    batch = LabelCollate(collate)([ds[0], ds[1]])
    assert batch["labels"].shape == (2, 100) and (batch["labels"][1, 50:] == IGNORE).all()


def test_assign_and_purity():
    c = np.array([[0.0, 0.0], [10.0, 10.0]], dtype=np.float32)
    assert assign(np.array([[1, 1], [9, 8], [0, 2]], dtype=np.float32), c).tolist() == [0, 1, 0]
    chars = np.array([1, 1, 2, 2, 3, 3])
    perfect = purity(chars, np.array([5, 5, 6, 6, 7, 7]))
    assert perfect == pytest.approx({"char_purity": 1.0, "cluster_purity": 1.0, "pnmi": 1.0})
    one = purity(chars, np.zeros(6, dtype=int))
    assert one["char_purity"] == pytest.approx(1 / 3) and one["pnmi"] == pytest.approx(0.0)
