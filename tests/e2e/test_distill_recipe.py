"""Tiny end-to-end run: teacher file -> distill (CLI) -> student file + report -> finetune from the student."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

from edge_ssl.data.manifest import Utterance, write_manifest
from edge_ssl.models.speech_encoder import SpeechEncoder, tiny
from edge_ssl.models.store import read_model_meta, save_model

pytestmark = pytest.mark.e2e


def cli(*args, torchrun: bool = False):
    launcher = ["-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", "29531"] if torchrun else []
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, *launcher, "-m", "edge_ssl", *map(str, args)], capture_output=True,
                          text=True, env=env, timeout=600)


def make_corpus_and_teacher(tmp_path):
    """6 labeled noise clips (m.jsonl) and a random 4-layer tiny teacher (teacher.safetensors)."""
    rng = np.random.default_rng(0)
    utts = []
    for i in range(6):
        n = 16000 + 2000 * i
        sf.write(tmp_path / f"u{i}.wav", (0.1 * rng.normal(size=n)).astype(np.float32), 16000)
        utts.append(Utterance(f"u{i}", tmp_path / f"u{i}.wav", n, "some words"))
    write_manifest(utts, tmp_path / "m.jsonl")
    teacher_cfg = tiny(num_layers=4)
    save_model(SpeechEncoder(teacher_cfg), tmp_path / "teacher.safetensors", "speech_encoder", teacher_cfg)


def test_distill_then_finetune_the_student(tmp_path):
    make_corpus_and_teacher(tmp_path)
    out = tmp_path / "student"
    r = cli("distill", "-c", "distill/tiny", f"out_dir={out}", f"teacher={tmp_path / 'teacher.safetensors'}",
            f"data.train_manifest={tmp_path / 'm.jsonl'}", f"data.valid_manifest={tmp_path / 'm.jsonl'}",
            "data.max_batch_samples=60000", "train.max_steps=4", "train.log_every=2", "report_utterances=2")
    assert r.returncode == 0, r.stderr[-3000:]
    meta = read_model_meta(out / "model.safetensors")
    assert meta["kind"] == "speech_encoder" and meta["config"]["num_layers"] == 2
    report = json.loads((out / "report.json").read_text())
    assert report["student"]["params_m"] < report["teacher"]["params_m"]
    assert report["student"]["gflops_per_s"] < report["teacher"]["gflops_per_s"]
    assert set(report["similarity"]) == {"layer2", "layer3", "layer4"}
    assert all(-1 <= s["cosine"] <= 1 for s in report["similarity"].values())
    assert [json.loads(x)["step"] for x in (out / "metrics.jsonl").read_text().splitlines()] == [2, 4]

    r = cli("finetune", "-c", "ctc/tiny", f"out_dir={tmp_path / 'ctc'}", f"model.init_from={out / 'model.safetensors'}",
            f"data.train_manifest={tmp_path / 'm.jsonl'}", "data.valid_manifest=", "data.max_batch_samples=60000",
            "train.max_steps=2", "model.freeze_encoder_steps=1")
    assert r.returncode == 0, r.stderr[-3000:]
    assert read_model_meta(tmp_path / "ctc" / "model.safetensors")["kind"] == "ctc"


def test_distill_and_finetune_under_torchrun(tmp_path):
    """2 gloo processes: each recipe trains, rank 0 alone writes the model, the report / the held-out
    evaluation, and says ``done:`` once."""
    make_corpus_and_teacher(tmp_path)
    data = [f"data.train_manifest={tmp_path / 'm.jsonl'}", f"data.valid_manifest={tmp_path / 'm.jsonl'}",
            "data.max_batch_samples=60000", "train.max_steps=2"]
    out = tmp_path / "student"
    r = cli("distill", "-c", "distill/tiny", f"out_dir={out}", f"teacher={tmp_path / 'teacher.safetensors'}",
            *data, "report_utterances=2", torchrun=True)
    assert r.returncode == 0, r.stderr[-3000:]
    assert r.stdout.count("done:") == 1
    assert (out / "report.json").is_file() and read_model_meta(out / "model.safetensors")["kind"] == "speech_encoder"

    ctc = tmp_path / "ctc"
    r = cli("finetune", "-c", "ctc/tiny", f"out_dir={ctc}", f"model.init_from={out / 'model.safetensors'}", *data,
            "model.freeze_encoder_steps=1", torchrun=True)
    assert r.returncode == 0, r.stderr[-3000:]
    assert r.stdout.count("done:") == 1
    assert read_model_meta(ctc / "model.safetensors")["kind"] == "ctc"
    assert json.loads((ctc / "valid" / "summary.json").read_text())["num_utterances"] == 6


def test_mismatched_teacher_names_tensors(tmp_path):
    save_model(SpeechEncoder(tiny(num_layers=3)), tmp_path / "t.safetensors", "speech_encoder", tiny(num_layers=4))
    r = cli("distill", "-c", "distill/tiny", f"out_dir={tmp_path / 'o'}", f"teacher={tmp_path / 't.safetensors'}")
    assert r.returncode == 2 and "encoder.layers.3" in r.stderr


def test_distill_from_a_teacher_feature_cache(tmp_path):
    make_corpus_and_teacher(tmp_path)
    args = ["distill", "-c", "distill/tiny", f"teacher={tmp_path / 'teacher.safetensors'}",
            f"data.train_manifest={tmp_path / 'm.jsonl'}", f"data.valid_manifest={tmp_path / 'm.jsonl'}",
            "report_utterances=2", "data.max_batch_samples=60000", "train.max_steps=3",
            f"teacher_cache={tmp_path / 'cache'}"]
    r = cli(*args, f"out_dir={tmp_path / 'a'}")
    assert r.returncode == 0, r.stderr[-3000:]
    (folder,) = (tmp_path / "cache").iterdir()
    meta = json.loads((folder / "meta.json").read_text())
    assert meta["complete"] and meta["layers"] == [2, 3, 4] and meta["utterances"] == 6
    before = (folder / "features.f16").stat().st_mtime_ns
    r = cli(*args, f"out_dir={tmp_path / 'b'}")  # a second run reuses the cache: no rebuild
    assert r.returncode == 0, r.stderr[-3000:]
    assert (folder / "features.f16").stat().st_mtime_ns == before
    assert json.loads((tmp_path / "b" / "metrics.jsonl").read_text().splitlines()[-1])["loss"] > 0
