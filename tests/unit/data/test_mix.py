"""prepare mix: shares of several manifests in one, paths still resolving, duplicates refused."""
import numpy as np
import pytest
import soundfile as sf

from edge_ssl.data.manifest import ManifestError, Utterance, read_manifest, write_manifest
from edge_ssl.data.mix import MixPart, mix_manifests


def _corpus(root, prefix, n):
    root.mkdir()
    utts = []
    for i in range(n):
        p = root / f"{prefix}{i}.wav"
        sf.write(p, np.zeros(1600, np.float32), 16000)
        utts.append(Utterance(f"{prefix}/{i}", p, 1600, f"text {i}"))
    return write_manifest(utts, root / "m.jsonl")


def test_mix_takes_a_seeded_share_and_paths_still_resolve(tmp_path):
    a, b = _corpus(tmp_path / "a", "a", 4), _corpus(tmp_path / "b", "b", 10)
    stats = mix_manifests([MixPart.parse(str(a)), MixPart.parse(f"{b}:0.3")], tmp_path / "out" / "mix.jsonl", seed=1)
    assert [s["clips"] for s in stats.values()] == [4, 3]
    rows = read_manifest(tmp_path / "out" / "mix.jsonl")
    assert len(rows) == 7 and all(r.audio_path.is_file() for r in rows)
    again = mix_manifests([MixPart(a), MixPart(b, 0.3)], tmp_path / "again.jsonl", seed=1)
    assert [r.id for r in read_manifest(tmp_path / "again.jsonl")] == [r.id for r in rows] and again == stats


def test_mix_refuses_bad_fractions_and_duplicate_ids(tmp_path):
    a = _corpus(tmp_path / "a", "a", 2)
    with pytest.raises(ManifestError, match=r"fraction after ':' must be in \(0, 1\]"):
        MixPart.parse(f"{a}:1.5")
    with pytest.raises(ManifestError, match="'a/0' is also in"):
        mix_manifests([MixPart(a), MixPart(a)], tmp_path / "dup.jsonl")
    assert not (tmp_path / "dup.jsonl").exists()
