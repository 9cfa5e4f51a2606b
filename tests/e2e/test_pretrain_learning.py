"""Slow (opt-in: -m slow): each tiny recipe config, as shipped, on a synthetic TTS corpus: the loss falls.

Needs ``edge-ssl prepare synth`` output at data/synth (or EDGE_SSL_SYNTH=/path/to/corpus). HuBERT first
dumps MFCC k-means labels with ``hubert-targets``. About 10 minutes per recipe on 2 free cores."""
import json
import os
import statistics
from pathlib import Path

import pytest
from typer.testing import CliRunner

from edge_ssl.cli.app import app

pytestmark = pytest.mark.slow
SYNTH = Path(os.environ.get("EDGE_SSL_SYNTH", Path(__file__).resolve().parents[2] / "data" / "synth"))


def run(*args):
    res = CliRunner().invoke(app, [str(a) for a in args])
    assert res.exit_code == 0, f"{res.output}\n{res.exception!r}"


@pytest.mark.parametrize("method", ["wav2vec2", "hubert", "data2vec"])
def test_tiny_config_learns(method, tmp_path):
    if not (SYNTH / "train.jsonl").is_file():
        pytest.skip(f"no synthetic corpus at {SYNTH} (edge-ssl prepare synth)")
    extra = []
    if method == "hubert":
        run("hubert-targets", SYNTH / "train.jsonl", "--out", tmp_path / "km1", "-k", "50", "--fit-fraction", "0.5")
        extra = [f"data.train_labels={tmp_path / 'km1' / 'train.km'}"]
    out = tmp_path / method
    run("pretrain", method, "-c", f"{method}/tiny", f"out_dir={out}", f"data.train_manifest={SYNTH / 'train.jsonl'}",
        "train.log_every=5", *extra)
    losses = [json.loads(ln)["loss"] for ln in (out / "metrics.jsonl").read_text().splitlines()]
    quarter = len(losses) // 4
    assert statistics.mean(losses[-quarter:]) < statistics.mean(losses[:quarter]) - 0.1
