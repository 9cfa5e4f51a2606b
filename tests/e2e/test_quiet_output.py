"""Quiet by default: a real ``edge-ssl`` process prints its own lines and nothing from torch, torchao, the ONNX
exporter or ExecuTorch's C++; ``-v`` brings those back. stderr lines are counted, as a user sees them."""
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from edge_ssl.audio.io import save_wav
from edge_ssl.deploy.samples import random_ctc_model

pytestmark = pytest.mark.e2e
REPO = Path(__file__).resolve().parents[2]
THIRD_PARTY = ("torchao", "_pytree", "cpuinfo", "onnx_ir", "onnxscript", "torchvision", "training mode", "Warning")


def stderr_lines(*args) -> list[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("TORCH_LOGS", "TORCHAO_FORCE_SKIP_LOADING_SO_FILES")}
    r = subprocess.run([sys.executable, "-m", "edge_ssl", *map(str, args)], cwd=REPO, env=env,
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    return r.stderr.splitlines()


@pytest.fixture(scope="module")
def wav(tmp_path_factory):
    path = tmp_path_factory.mktemp("audio") / "noise.wav"
    save_wav(path, 0.1 * np.random.default_rng(0).standard_normal(16000).astype(np.float32))
    return path


def test_transcribe_with_the_bundled_model_prints_nothing_else(wav):
    lines = stderr_lines("transcribe", wav)  # was 9 lines: torchao .so probes, _pytree, cpuinfo_utils
    assert len(lines) <= 1 and not any(w in ln for ln in lines for w in THIRD_PARTY), lines


def test_export_onnx_prints_one_line_and_v_shows_the_rest(tmp_path):
    model = random_ctc_model(tmp_path / "tiny.safetensors", "tiny")
    lines = stderr_lines("export", "onnx", model, "-o", tmp_path / "a.onnx", "--max-seconds", 3)
    # was 93: 68 onnx_ir/onnxscript INFO, torchvision, training mode, and each verify report twice
    assert len(lines) <= 2 and not any(w in ln for ln in lines for w in THIRD_PARTY), lines
    verbose = stderr_lines("-v", "export", "onnx", model, "-o", tmp_path / "b.onnx", "--max-seconds", 3)
    assert any("onnx_ir" in ln or "onnxscript" in ln for ln in verbose), verbose


def test_prepare_folder_prints_its_summary_once(tmp_path, wav):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.wav").write_bytes(wav.read_bytes())
    r = subprocess.run([sys.executable, "-m", "edge_ssl", "prepare", "folder", tmp_path / "in", tmp_path / "m.jsonl"],
                       cwd=REPO, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert (r.stdout + r.stderr).count("1 utterances ->") == 1, r.stdout + r.stderr
