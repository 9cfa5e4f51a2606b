"""Teacher-feature cache: values equal the live teacher, resume after a kill, reuse, stale caches refused."""
import json
import os

import numpy as np
import pytest
import soundfile as sf
import torch

from edge_ssl.data.dataset import AudioDataset, collate
from edge_ssl.data.manifest import Utterance
from edge_ssl.models.distiller import Distiller, StudentConfig
from edge_ssl.models.speech_encoder import SpeechEncoder, tiny
from edge_ssl.models.store import save_model
from edge_ssl.methods.distill import DistillModule
from edge_ssl.targets.teacher_cache import StaleCacheError, build_cache, open_cache

LAYERS = [2, 4]


@pytest.fixture
def setup(tmp_path):
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    utts = []
    for i, n in enumerate([9000, 16000, 23456]):
        sf.write(tmp_path / f"u{i}.wav", (0.1 * rng.normal(size=n)).astype(np.float32), 16000)
        utts.append(Utterance(f"u{i}", tmp_path / f"u{i}.wav", n))
    cfg = tiny(num_layers=4)
    teacher = SpeechEncoder(cfg).eval()
    save_model(teacher, tmp_path / "teacher.safetensors", "speech_encoder", cfg)
    return teacher, tmp_path / "teacher.safetensors", utts


def _live(teacher, utt):
    from edge_ssl.audio.io import load_audio

    with torch.no_grad():
        out = teacher.extract_features(torch.from_numpy(load_audio(utt.audio_path))[None])
    return torch.stack([out.hidden_states[k][0] for k in LAYERS], dim=1)  # (T, N, D)


def test_cache_holds_the_teacher_frames_in_fp16(setup, tmp_path):
    teacher, path, utts = setup
    cache = build_cache(teacher, path, LAYERS, utts, tmp_path / "cache")
    for u in utts:
        live = _live(teacher, u)
        got = cache.frames(u.id, 0, 10_000)
        assert got.shape == live.shape
        torch.testing.assert_close(got, live, atol=2e-3 * live.abs().max().item(), rtol=1e-2)
    torch.testing.assert_close(cache.frames("u2", 5, 7), cache.frames("u2", 0, 100)[5:12])


def test_resume_after_a_kill_and_reuse(setup, tmp_path, monkeypatch):
    teacher, path, utts = setup
    import edge_ssl.targets.teacher_cache as tc

    calls = []
    real = tc._teacher_frames

    def dies_on_third(t, wave, layers):
        if len(calls) == 2:
            raise KeyboardInterrupt  # as a kill between two utterances
        calls.append(1)
        return real(t, wave, layers)

    monkeypatch.setattr(tc, "_teacher_frames", dies_on_third)
    with pytest.raises(KeyboardInterrupt):
        build_cache(teacher, path, LAYERS, utts, tmp_path / "cache")
    folder = next((tmp_path / "cache").iterdir())
    with pytest.raises(StaleCacheError, match="incomplete"):
        open_cache(folder)
    # Done marks are flushed every 50 utterances and at the end: a kill redoes at most 50, and the
    # finished cache equals a fresh build.
    monkeypatch.setattr(tc, "_teacher_frames", real)
    cache = build_cache(teacher, path, LAYERS, utts, tmp_path / "cache")
    fresh = build_cache(teacher, path, LAYERS, utts, tmp_path / "fresh")
    assert np.array_equal(np.asarray(cache.features), np.asarray(fresh.features))
    calls.clear()
    monkeypatch.setattr(tc, "_teacher_frames", dies_on_third)  # a complete cache runs no teacher
    build_cache(teacher, path, LAYERS, utts, tmp_path / "cache")


def test_changed_audio_or_teacher_makes_a_new_key_and_a_tampered_folder_is_refused(setup, tmp_path):
    teacher, path, utts = setup
    first = build_cache(teacher, path, LAYERS, utts, tmp_path / "cache").folder
    sf.write(utts[0].audio_path, np.zeros(9000, np.float32), 16000)
    os.utime(utts[0].audio_path, ns=(1, 1))
    second = build_cache(teacher, path, LAYERS, utts, tmp_path / "cache").folder
    assert second != first  # the edited clip gets fresh features, not the old ones
    meta = json.loads((second / "meta.json").read_text())
    meta["layers"] = [1, 2]
    (second / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(StaleCacheError, match="layers"):
        build_cache(teacher, path, LAYERS, utts, tmp_path / "cache")


def test_distill_batches_read_the_same_targets_as_the_live_teacher(setup, tmp_path):
    teacher, path, utts = setup
    cache = build_cache(teacher, path, LAYERS, utts, tmp_path / "cache")
    distiller = Distiller(teacher.cfg, StudentConfig(target_layers=LAYERS))
    module = DistillModule(teacher, distiller, 1.0, cache)
    ds = AudioDataset(utts, max_samples=8000, seed=1, crop_multiple=teacher.downsample_rate)
    batch = collate([ds[i] for i in range(3)])
    assert all(int(s) % teacher.downsample_rate == 0 for s in batch["starts"]) and batch["starts"].any()
    pred, pad = distiller(batch["wave"], batch["lengths"])
    target, missing = module.cached_targets(batch, pred.shape[2])  # (B, N, T, D)
    for b in range(3):
        u, s = utts[b], int(batch["starts"][b]) // teacher.downsample_rate
        n = int((~missing[b]).sum())
        full = _live(teacher, u)[s:s + n].transpose(0, 1)   # (N, n, D): the uncropped clip's frames
        torch.testing.assert_close(target[b, :, :n], full, atol=2e-3 * full.abs().max().item(), rtol=1e-2)
