"""A training run (``edge-ssl finetune``, the smallest recipe) meeting bad configs, changed configs on resume,
a corrupt checkpoint, a kill -9 mid-write and Ctrl-C (issue 18 #8-#11, #14 and "Ctrl-C exits silently")."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from edge_ssl.audio.io import save_wav
from edge_ssl.data.manifest import Utterance, write_manifest

REPO = Path(__file__).resolve().parents[3]
ENV = {**os.environ, "OMP_NUM_THREADS": "1"}
SMALL = ["model.encoder.num_layers=1", "model.encoder.embed_dim=32", "model.encoder.num_heads=2",
         "model.encoder.ffn_dim=64", "model.freeze_encoder_steps=0", "data.valid_manifest=",
         "data.max_batch_samples=32000", "train.device=cpu", "train.log_every=1", "train.save_every=1",
         "optim.schedule=constant", "optim.warmup=0"]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("corpus")
    rng = np.random.default_rng(0)
    utts = []
    for i in range(4):
        save_wav(root / f"u{i}.wav", 0.1 * rng.standard_normal(8000 + 800 * i).astype(np.float32))
        utts.append(Utterance(f"u{i}", root / f"u{i}.wav", 8000 + 800 * i, "a b c"))
    return write_manifest(utts, root / "train.jsonl")


def finetune_args(out, corpus, steps, *extra):
    return ["finetune", "-c", "ctc/tiny", f"out_dir={out}", f"data.train_manifest={corpus}",
            f"train.max_steps={steps}", *SMALL, *extra]


def lrs(out):
    return [json.loads(ln)["lr"] for ln in (out / "metrics.jsonl").read_text().splitlines()]


@pytest.mark.parametrize("bad,key", [("train.max_steps=-5", "train.max_steps"),
                                     ("train.max_steps=0", "train.max_steps"), ("optim.lr=-1", "optim.lr")])
def test_impossible_values_are_config_errors(run_cli, corpus, tmp_path, bad, key):  # #8, #9: tracebacks
    out = tmp_path / "run"
    code, err = run_cli(*finetune_args(out, corpus, 2, bad))
    assert code == 2 and key in err and "Traceback" not in err
    assert not (out / "model.safetensors").exists() and not (out / "config.yaml").exists()


def test_resume_with_a_changed_config_is_refused_unless_allowed(run_cli, corpus, tmp_path):  # #11
    out = tmp_path / "run"
    assert run_cli(*finetune_args(out, corpus, 2, "optim.lr=0.001"))[0] in (0, None)
    saved = (out / "config.yaml").read_text()

    code, err = run_cli(*finetune_args(out, corpus, 4, "optim.lr=0.05"))
    assert code == 2 and "optim.lr: 0.001 -> 0.05" in err and "train.max_steps: 2 -> 4" in err
    assert "train.allow_config_change=true" in err
    assert (out / "config.yaml").read_text() == saved and lrs(out) == [0.001] * 2

    code, err = run_cli(*finetune_args(out, corpus, 4, "optim.lr=0.05", "train.allow_config_change=true"))
    assert code in (0, None), err
    assert lrs(out) == [0.001] * 2 + [0.05] * 2  # the new lr applies from the resumed step on
    assert yaml.safe_load((out / "config.yaml").read_text())["optim"]["lr"] == 0.05


def test_failed_start_leaves_config_yaml_alone(run_cli, corpus, tmp_path):  # #14
    out = tmp_path / "run"
    assert run_cli(*finetune_args(out, corpus, 2))[0] in (0, None)
    saved = (out / "config.yaml").read_text()
    (out / "checkpoint.pt").write_bytes(b"PK\x03\x04 truncated checkpoint")
    code, err = run_cli(*finetune_args(out, corpus, 2, "train.log_every=2"))  # a key a resume may change
    assert code == 2 and "checkpoint" in err
    assert (out / "config.yaml").read_text() == saved


def test_orphaned_temp_files_are_removed_at_the_next_start(run_cli, corpus, tmp_path):  # #10
    out = tmp_path / "run"
    out.mkdir()
    # a real writer killed with SIGKILL inside atomic_path: its temp file stays behind
    writer = subprocess.Popen([sys.executable, "-c", (
        "import sys, time; from edge_ssl.atomic import atomic_path\n"
        f"with atomic_path({str(out / 'checkpoint.pt')!r}) as tmp:\n"
        "    tmp.write_bytes(b'x' * 1000); print(tmp, flush=True); time.sleep(60)")],
        cwd=REPO, stdout=subprocess.PIPE, text=True)
    tmp = Path(writer.stdout.readline().strip())
    writer.send_signal(signal.SIGKILL)
    writer.wait()
    assert tmp.exists() and tmp.name.startswith(".checkpoint.pt.") and tmp.name.endswith(".tmp")
    (out / "notes.tmp").write_text("not ours")  # only atomic_path's temp names are touched

    assert run_cli(*finetune_args(out, corpus, 1))[0] in (0, None)
    assert not tmp.exists() and (out / "notes.tmp").exists()
    assert not [p for p in out.iterdir() if p.name.startswith(".") and p.name.endswith(".tmp")]


def test_ctrl_c_saves_a_checkpoint_and_says_how_to_resume(corpus, tmp_path):
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "edge_ssl", *finetune_args(out, corpus, 100000, "train.save_every=100000")]
    proc = subprocess.Popen(cmd, cwd=REPO, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 300
    while proc.poll() is None and time.time() < deadline and \
            len((out / "metrics.jsonl").read_text().splitlines() if (out / "metrics.jsonl").exists() else []) < 2:
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    step = torch.load(out / "checkpoint.pt", weights_only=True)["step"]
    assert step >= 2 and f"interrupted at step {step}" in err and "checkpoint" in err


def test_wrong_num_samples_names_the_line_and_a_bad_file_is_skipped_up_front(run_cli, corpus, tmp_path, caplog):
    """Issue 18 #6: 1e7 on short clips logged "6.94 h" and batched one clip at a time; and finetune stopped at
    the first bad file of its training manifest mid-run."""
    rows = [json.loads(ln) for ln in corpus.read_text().splitlines()]
    for r in rows:
        r["audio"] = str(corpus.parent / r["audio"])
    wrong = tmp_path / "wrong.jsonl"
    wrong.write_text("".join(json.dumps({**r, "num_samples": 10_000_000 if i == 2 else r["num_samples"]}) + "\n"
                             for i, r in enumerate(rows)))
    code, err = run_cli(*finetune_args(tmp_path / "a", wrong, 1))
    assert code == 2 and f"{wrong}:3: 'num_samples' is 10000000" in err

    (tmp_path / "bad.wav").write_bytes(b"RIFF0000WAVEjunk")
    bad = tmp_path / "bad.jsonl"  # one unreadable file, and lines without num_samples
    bad.write_text("".join(json.dumps({k: v for k, v in r.items() if k != "num_samples"}) + "\n" for r in rows)
                   + json.dumps({"id": "bad", "audio": str(tmp_path / "bad.wav"), "num_samples": 8000,
                                 "text": "a"}) + "\n")
    with caplog.at_level("WARNING"):
        code, err = run_cli(*finetune_args(tmp_path / "b", bad, 2))
    assert code in (0, None), err
    assert f"skipping {bad}:5" in caplog.text and "bad.wav" in caplog.text
    assert len((tmp_path / "b" / "train_labeled.jsonl").read_text().splitlines()) == 4


def test_malicious_checkpoint_is_refused_in_one_line(run_cli, corpus, tmp_path):  # issue 18 #13, on resume
    out = tmp_path / "run"
    out.mkdir()
    torch.save({"model": Evil(tmp_path / "pwned"), "optimizer": {}, "step": 1}, out / "checkpoint.pt")
    code, err = run_cli(*finetune_args(out, corpus, 2))
    assert code == 2 and "system" in err and "weights_only" not in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1 and not (tmp_path / "pwned").exists()


class Evil:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)
