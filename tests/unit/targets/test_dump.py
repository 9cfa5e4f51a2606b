"""build_targets featurises each utterance once (the fitting sample's features are reused for its dump), on
one thread, and every label is still the nearest centroid of the utterance's own features."""
import numpy as np
import torch

from edge_ssl.audio.io import load_audio, save_wav
from edge_ssl.data.manifest import Utterance, read_manifest, write_manifest
from edge_ssl.targets import dump, kmeans


def tones(tmp_path, name, n):
    rng = np.random.default_rng(n)
    utts = []
    for i in range(n):
        t = np.arange(8000 + 1600 * i) / 16000
        wave = 0.3 * np.sin(2 * np.pi * (200 + 90 * i) * t) + 0.05 * rng.standard_normal(len(t))
        path = tmp_path / f"{name}{i}.wav"
        save_wav(path, wave.astype(np.float32))
        utts.append(Utterance(f"{name}{i}", path, len(t), "a b c", "tone"))
    return write_manifest(utts, tmp_path / f"{name}.jsonl")


def test_each_utterance_is_featurised_once_on_one_thread(tmp_path, monkeypatch):
    train, valid = tones(tmp_path, "train", 8), tones(tmp_path, "valid", 3)
    real, threads = dump.feature_fn, []

    def counted(cfg):  # the real feature function, noting the thread count of every call
        fn, rate, desc = real(cfg)
        return (lambda wave: threads.append(torch.get_num_threads()) or fn(wave)), rate, desc

    monkeypatch.setattr(dump, "feature_fn", counted)
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        cfg = dump.TargetsConfig(num_clusters=4, fit_fraction=0.5, n_init=1)
        report = dump.build_targets([train, valid], tmp_path / "km", cfg)
        assert torch.get_num_threads() == 2  # restored
    finally:
        torch.set_num_threads(before)
    assert report["fit_utterances"] == 4
    assert len(threads) == 8 + 3 and set(threads) == {1}

    centroids = kmeans.load_centroids(tmp_path / "km" / "kmeans.safetensors")
    fn = real(cfg)[0]
    for manifest in (train, valid):
        lines = (tmp_path / "km" / f"{manifest.stem}.km").read_text().splitlines()
        for line, utt in zip(lines, read_manifest(manifest), strict=True):
            assert [int(x) for x in line.split()] == kmeans.assign(fn(load_audio(utt.audio_path)), centroids).tolist()
