"""Tiny end-to-end runs of the three pretraining recipes: CLI in-process, DDP (torchrun, gloo) against one
process with the same global batch, and the HuBERT two-iteration pipeline."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from edge_ssl.cli.app import app
from edge_ssl.models.store import load_model
from pretrain_corpus import FAST, make_corpus

pytestmark = pytest.mark.e2e
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return make_corpus(tmp_path_factory.mktemp("corpus"))


def cli(*args):
    res = CliRunner().invoke(app, [str(a) for a in args])
    assert res.exit_code == 0, f"{res.output}\n{res.exception!r}"
    return res.output


def losses(out: Path) -> list[float]:
    return [json.loads(ln)["loss"] for ln in (out / "metrics.jsonl").read_text().splitlines()]


@pytest.mark.parametrize("method,extra", [
    ("wav2vec2", ["objective.num_negatives=10", "objective.codebook_entries=16", "objective.final_dim=32"]),
    ("data2vec", ["objective.top_k=2"]),
])
def test_recipe_runs_from_the_cli(corpus, tmp_path, method, extra):
    out = tmp_path / method
    cli("pretrain", method, "-c", f"{method}/tiny", f"out_dir={out}", f"data.train_manifest={corpus}",
        "train.max_steps=2", *FAST, *extra)
    assert len(losses(out)) == 2
    model, meta = load_model(out / "model.safetensors")
    assert meta["kind"] == "speech_encoder" and meta["pretrained_with"] == method
    assert (out / "loss.png").read_bytes()[:4] == b"\x89PNG"


def test_hubert_two_iterations_end_to_end(corpus, tmp_path):
    text = cli("hubert-targets", corpus, "--out", tmp_path / "km1", "-k", "8", "--fit-fraction", "0.5", "--n-init", "2")
    report = json.loads((tmp_path / "km1" / "targets.json").read_text())
    assert report["label_rate"] == 100 and report["features"] == "mfcc39" and "char_purity" in text
    train = report["manifests"]["train"]
    assert 0 < train["char_purity"] <= 1 and 0 <= train["pnmi"] <= 1
    it1 = tmp_path / "it1"
    cli("pretrain", "hubert", "-c", "hubert/tiny", f"out_dir={it1}", f"data.train_manifest={corpus}",
        f"data.train_labels={tmp_path / 'km1' / 'train.km'}", "objective.num_classes=8", "train.max_steps=1", *FAST)
    cli("hubert-targets", corpus, "--out", tmp_path / "km2", "-k", "6", "--fit-fraction", "0.5", "--n-init", "2",
        "--features", it1 / "model.safetensors", "--layer", "1")
    report2 = json.loads((tmp_path / "km2" / "targets.json").read_text())
    assert report2["label_rate"] == 50 and report2["features"] == "model.safetensors:layer1"
    it2 = tmp_path / "it2"
    cli("pretrain", "hubert", "-c", "hubert/tiny_iter2", f"out_dir={it2}", f"data.train_manifest={corpus}",
        f"data.train_labels={tmp_path / 'km2' / 'train.km'}", "objective.num_classes=6", "train.max_steps=1", *FAST)
    assert len(losses(it2)) == 1


def test_torchrun_two_processes_match_one_process_with_accumulation(corpus, tmp_path):
    """Same global batch: 1 process x grad_accum 2 == 2 gloo processes x 1 micro-batch. Masks, distractors
    and Gumbel noise are seeded per utterance, dropout/layerdrop are 0, so only the order of float sums
    differs (gloo's all-reduce vs. sequential accumulation): losses agree to 1e-4 relative over 3 steps."""
    args = ["pretrain", "wav2vec2", "-c", "wav2vec2/tiny", f"data.train_manifest={corpus}", "train.max_steps=3",
            *FAST, "objective.num_negatives=10", "objective.codebook_entries=16", "objective.final_dim=32",
            "train.seed=3"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    one = tmp_path / "one"
    cli(*args, f"out_dir={one}", "train.grad_accum=2")
    two = tmp_path / "two"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", "29517",
           "-m", "edge_ssl", *args, f"out_dir={two}", "train.grad_accum=1"]
    res = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    a, b = losses(one), losses(two)
    assert len(a) == len(b) == 3
    assert a == pytest.approx(b, rel=1e-4)
