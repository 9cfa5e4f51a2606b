"""The synthetic corpus, built with the real TTS engines (flite, espeak-ng, festival; piper if installed)."""
import hashlib
import json
import shutil
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from edge_ssl.asr.decode.tokenizer import normalize_text
from edge_ssl.audio.io import load_audio
from edge_ssl.data.manifest import read_manifest
from edge_ssl.data.sentences import is_clean, wordnet_sentences
from edge_ssl.data.synth import SynthConfig, build_plan, build_synth_corpus
from edge_ssl.data.tts import CATALOGUE, Prompt, Voice, synthesize, unavailable_reason
from edge_ssl.errors import EdgeSSLError

TINY = dict(num_utterances=24, max_sentences=10, seed=7, augment_prob=0.5,
            voices=("flite:kal16", "flite:slt", "espeak-ng:en-us", "espeak-ng:en+f3", "festival:kal_diphone"),
            test_voices=("flite:rms", "espeak-ng:en-gb-scotland"))


def digest(folder):
    files = sorted(p for p in folder.rglob("*") if p.is_file() and p.name != "corpus.json")
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest() for p in files}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    out = tmp_path_factory.mktemp("synth") / "corpus"
    stats = build_synth_corpus(out, SynthConfig(**TINY), jobs=2, progress=False)
    return out, stats


def test_splits_hold_out_voices_and_sentences(corpus):
    out, stats = corpus
    splits = {s: read_manifest(out / f"{s}.jsonl") for s in ("train", "valid", "test")}
    assert {s: len(u) for s, u in splits.items()} == {"train": 21, "valid": 1, "test": 2}
    voices = {s: {u.speaker for u in utts} for s, utts in splits.items()}
    assert voices["test"] == {"flite:rms", "espeak-ng:en-gb-scotland"}
    assert not voices["test"] & (voices["train"] | voices["valid"])
    sents = {s: {u.extra["prompt"] for u in utts} for s, utts in splits.items()}
    assert not sents["train"] & sents["valid"] and not sents["train"] & sents["test"]
    assert not sents["valid"] & sents["test"]
    assert stats["splits"]["test"]["voices"] == sorted(voices["test"])


def test_audio_is_16k_mono_and_labels_are_normalised(corpus):
    out, stats = corpus
    utts = [u for s in ("train", "valid", "test") for u in read_manifest(out / f"{s}.jsonl")]
    for u in utts:
        wave = load_audio(u.audio_path)
        assert len(wave) == u.num_samples and 0.05 < np.abs(wave).max() <= 1.0
        assert u.text == normalize_text(u.extra["prompt"]) and u.text
        assert u.extra["engine"] == u.speaker.split(":")[0] and "augment" in u.extra
    assert any(u.extra["augment"] for u in utts) and any(not u.extra["augment"] for u in utts)
    assert abs(stats["hours"] - sum(u.num_samples for u in utts) / 16000 / 3600) < 1e-3
    assert stats["build"]["hours_per_minute"] > 0


def test_deterministic_and_independent_of_worker_count(corpus, tmp_path):
    out, _ = corpus
    again = tmp_path / "again"
    build_synth_corpus(again, SynthConfig(**TINY), jobs=1, progress=False)
    assert digest(again) == digest(out)


def test_complete_corpus_is_reused_and_incomplete_one_rebuilt(corpus, tmp_path, caplog):
    out, stats = corpus
    before = {p: p.stat().st_mtime_ns for p in out.rglob("*.jsonl")}
    assert build_synth_corpus(out, SynthConfig(**TINY), progress=False) == stats
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*.jsonl")} == before
    # a build killed after rendering part of the audio: no corpus.json, so not complete; it resumes
    copy = tmp_path / "killed"
    shutil.copytree(out, copy)
    (copy / "corpus.json").unlink()
    (copy / "test.jsonl").unlink()
    for wav in sorted((copy / "audio").glob("*.wav"))[:5]:
        wav.unlink()
    (copy / ".building.json").write_text(json.dumps(stats["params"]))
    with caplog.at_level("INFO"):
        build_synth_corpus(copy, SynthConfig(**TINY), jobs=2, progress=False)
    assert "19 of 24 utterances already rendered" in caplog.text
    assert digest(copy) == digest(out)
    # other parameters: rebuilt, and stale audio removed
    other = build_synth_corpus(copy, SynthConfig(**{**TINY, "seed": 8, "num_utterances": 12}), progress=False)
    assert other["params"]["config"]["seed"] == 8
    assert len(list((copy / "audio").glob("*.wav"))) == 12


def test_bad_voice_settings_are_errors(tmp_path):
    with pytest.raises(EdgeSSLError, match="ENGINE:NAME"):
        build_synth_corpus(tmp_path, SynthConfig(voices=("kal16",)))
    with pytest.raises(EdgeSSLError, match="flite:nope"):
        build_synth_corpus(tmp_path, SynthConfig(voices=("flite:nope", "flite:kal")))
    with pytest.raises(EdgeSSLError, match="no voice left"):
        build_synth_corpus(tmp_path, SynthConfig(voices=("flite:rms",), test_voices=("flite:rms",)))


def test_every_catalogue_voice_renders_and_sounds_different():
    voices = [Voice.parse(v) for v in CATALOGUE if unavailable_reason(Voice.parse(v)) is None]
    assert len(voices) >= 15  # flite + espeak-ng alone give 19
    with ThreadPoolExecutor(4) as pool:  # the engines run as subprocesses: threads overlap them
        rendered = list(pool.map(lambda v: synthesize(v, [Prompt("the cat sat on the mat", 1.0, 0.0)])[0], voices))
    hashes = {}
    for v, (wave, sr) in zip(voices, rendered):
        assert len(wave) > sr * 0.5, v.id
        hashes[hashlib.sha256(np.round(wave, 3).tobytes()).hexdigest()] = v.id
    assert len(hashes) == len(voices)  # no voice silently falls back to another


def test_wordnet_sentences_are_clean():
    sents = wordnet_sentences()
    assert len(sents) > 20000
    assert all(3 <= len(normalize_text(s).split()) <= 20 for s in sents[:2000])
    assert is_clean("the desert is very dry")
    for bad in ("he was born in 1990", "the FBI arrived", "Dr. Smith is here", "a (loud) noise", "go", "café au lait"):
        assert not is_clean(bad), bad


def test_plan_is_balanced_over_voices():
    cfg = SynthConfig(num_utterances=400, seed=1)
    items = build_plan(cfg, ["a:1", "a:2", "a:3"], ["b:1"], [f"sentence number {i} here" for i in range(100)])
    counts = {v: sum(it.voice == v for it in items if it.split == "train") for v in ("a:1", "a:2", "a:3")}
    assert max(counts.values()) - min(counts.values()) <= 1
    assert items == build_plan(cfg, ["a:1", "a:2", "a:3"], ["b:1"], [f"sentence number {i} here" for i in range(100)])
