"""Faults on a real CLI process: SIGKILL after a checkpoint, then resume -> the same losses as a run that was
never interrupted (bit-identical on CPU); a corrupt checkpoint -> a clear error and exit code 2, never a
silent fresh start."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pretrain_corpus import FAST, make_corpus

pytestmark = pytest.mark.e2e
REPO = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "OMP_NUM_THREADS": "1"}


def command(corpus: Path, out: Path, steps: int) -> list[str]:
    return [sys.executable, "-m", "edge_ssl", "pretrain", "data2vec", "-c", "data2vec/tiny", f"out_dir={out}",
            f"data.train_manifest={corpus}", f"train.max_steps={steps}", *FAST, "objective.top_k=2",
            "encoder.dropout=0.1"]  # dropout on: the resumed RNG state must match too


def records(out: Path) -> list[dict]:
    return [json.loads(ln) for ln in (out / "metrics.jsonl").read_text().splitlines()]


def test_sigkill_then_resume_gives_identical_losses(tmp_path):
    corpus = make_corpus(tmp_path / "corpus", num=10)
    full = tmp_path / "full"
    subprocess.run(command(corpus, full, 6), cwd=REPO, env=ENV, check=True, capture_output=True, timeout=600)

    killed = tmp_path / "killed"
    proc = subprocess.Popen(command(corpus, killed, 6), cwd=REPO, env=ENV, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.time() + 600
    while not (killed / "checkpoint.pt").exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    assert proc.poll() is None, "the run ended before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done = [r["step"] for r in records(killed)]
    assert done and done[-1] < 6                                   # killed mid-run

    subprocess.run(command(corpus, killed, 6), cwd=REPO, env=ENV, check=True, capture_output=True, timeout=600)
    a, b = records(full), records(killed)
    assert [r["step"] for r in b] == list(range(1, 7))
    assert [r["loss"] for r in a] == [r["loss"] for r in b]        # identical, not approximately


def test_corrupt_checkpoint_is_a_clear_error(tmp_path):
    corpus = make_corpus(tmp_path / "corpus", num=6)
    out = tmp_path / "run"
    out.mkdir()
    (out / "checkpoint.pt").write_bytes(b"PK\x03\x04 truncated checkpoint")
    res = subprocess.run(command(corpus, out, 2), cwd=REPO, env=ENV, capture_output=True, text=True, timeout=600)
    assert res.returncode == 2
    assert "error:" in res.stderr and "checkpoint" in res.stderr
    assert not (out / "metrics.jsonl").exists()                     # no fresh start
