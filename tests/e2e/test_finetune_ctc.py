"""Tiny end-to-end run of the first vertical slice: finetune (CLI) -> model file -> evaluate -> transcribe."""
import json
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

from edge_ssl.data.manifest import Utterance, write_manifest

pytestmark = pytest.mark.e2e

WORDS = ["a cat", "the dog", "hello there", "red box", "go home", "blue sky"]


def make_corpus(root):
    """Chirps with transcripts: enough for the pipeline, not for learning."""
    rng = np.random.default_rng(0)
    utts = []
    for i in range(12):
        n = 8000 + 800 * i
        t = np.arange(n) / 16000
        wave = 0.3 * np.sin(2 * np.pi * (200 + 50 * i) * t) + 0.01 * rng.normal(size=n)
        path = root / f"u{i}.wav"
        sf.write(path, wave.astype(np.float32), 16000)
        utts.append(Utterance(f"u{i}", path, n, WORDS[i % len(WORDS)] + ("" if i else " café")))
    write_manifest(utts[:10], root / "train.jsonl")
    write_manifest(utts[10:], root / "test.jsonl")
    write_manifest([Utterance(u.id, u.audio_path, u.num_samples) for u in utts], root / "unlabeled.jsonl")


def cli(*args, check=True):
    r = subprocess.run([sys.executable, "-m", "edge_ssl", *map(str, args)], capture_output=True, text=True)
    if check and r.returncode:
        raise AssertionError(f"edge-ssl {' '.join(map(str, args))} failed ({r.returncode}):\n{r.stderr[-3000:]}")
    return r


def in_process(*args):
    from typer.testing import CliRunner

    from edge_ssl.cli import app

    r = CliRunner().invoke(app, [str(a) for a in args])
    assert r.exit_code == 0, (r.output, r.exception)
    return r


def test_finetune_evaluate_transcribe(tmp_path):
    make_corpus(tmp_path)
    out = tmp_path / "run"
    r = cli("finetune", "-c", "ctc/tiny_scratch", f"out_dir={out}", f"data.train_manifest={tmp_path / 'train.jsonl'}",
            f"data.valid_manifest={tmp_path / 'test.jsonl'}", "data.max_batch_samples=40000", "train.max_steps=6",
            "train.log_every=2", "model.freeze_encoder_steps=3", "data.labeled_fraction=0.8")
    assert "outside the vocabulary: é" in r.stderr  # reported, not fatal
    assert (out / "model.safetensors").is_file() and (out / "tokens.txt").is_file()
    assert len((out / "train_labeled.jsonl").read_text().splitlines()) == 8
    logs = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    assert [x["step"] for x in logs] == [2, 4, 6] and logs[0]["frozen"] == 1 and logs[-1]["frozen"] == 0
    assert json.loads((out / "valid" / "summary.json").read_text())["num_utterances"] == 2

    # evaluate and transcribe in-process (typer's runner): the same commands without two more interpreter starts
    r = in_process("evaluate", out / "model.safetensors", tmp_path / "test.jsonl", "--out", tmp_path / "eval")
    summary = json.loads((tmp_path / "eval" / "summary.json").read_text())
    assert summary["num_utterances"] == 2 and 0 <= summary["cer"] and summary["chars"] > 0
    assert len((tmp_path / "eval" / "results.jsonl").read_text().splitlines()) == 2

    r = in_process("transcribe", tmp_path / "u10.wav", tmp_path / "u11.wav", "--model", out / "model.safetensors")
    assert str(tmp_path / "u10.wav") in r.stdout and str(tmp_path / "u11.wav") in r.stdout


def test_unlabeled_manifest_is_a_clear_error(tmp_path):
    make_corpus(tmp_path)
    r = cli("finetune", "-c", "ctc/tiny_scratch", f"out_dir={tmp_path / 'run'}",
            f"data.train_manifest={tmp_path / 'unlabeled.jsonl'}", check=False)
    assert r.returncode == 2 and "no utterance has a transcript" in r.stderr
