"""The package works outside a source checkout (issue 18 #1): a wheel built from the tree, installed into a fresh
venv with no source tree on its path, trains ``-c ctc/tiny`` for 2 steps from an empty folder.

The venv reuses this environment's dependencies (a .pth naming its site-packages: .pth files found there, such as
the editable install's finder, are not run) so nothing is downloaded; edge-ssl itself comes from the wheel only."""
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import numpy as np
import pytest

from edge_ssl.audio.io import save_wav
from edge_ssl.data.manifest import Utterance, write_manifest

pytestmark = pytest.mark.e2e
REPO = Path(__file__).resolve().parents[2]


def run(*cmd, cwd: Path, timeout: int = 300) -> str:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    r = subprocess.run([str(c) for c in cmd], cwd=cwd, env={**env, "OMP_NUM_THREADS": "1"}, capture_output=True,
                       text=True, timeout=timeout)
    assert r.returncode == 0, f"{cmd}: exit {r.returncode}\n{r.stdout}\n{r.stderr}"
    return r.stdout


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """-> the fresh venv's python, with the edge-ssl wheel (and only the wheel) installed."""
    root = tmp_path_factory.mktemp("wheel")
    src = root / "src"  # a copy: building in the tree would write build/ and egg-info beside other work
    shutil.copytree(REPO / "edge_ssl", src / "edge_ssl", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, src / name)
    run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-q",
        "-w", root / "dist", src, cwd=root)
    (wheel,) = (root / "dist").glob("edge_ssl-*.whl")
    venv = root / "venv"
    run(sys.executable, "-m", "venv", "--without-pip", venv, cwd=root)
    python = venv / "bin" / "python"
    site = Path(run(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])", cwd=root).strip())
    deps = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    (site / "_edge_ssl_deps.pth").write_text("\n".join(sorted(deps)) + "\n")
    run(sys.executable, "-m", "pip", "--python", python, "install", "--no-deps", "--no-index", "-q", wheel, cwd=root)
    return python


def test_the_wheel_carries_every_config_and_trains_from_an_empty_folder(installed, tmp_path):
    work = tmp_path / "empty"
    work.mkdir()
    probe = ("import edge_ssl; from edge_ssl.recipes.runner import CONFIG_ROOT; "
             "print(edge_ssl.__file__); print(len(list(CONFIG_ROOT.glob('*/*.yaml'))))")
    where, n_configs = run(installed, "-c", probe, cwd=work).split()
    assert not Path(where).resolve().is_relative_to(REPO), where  # the source tree is not on the path
    assert int(n_configs) == len(list((REPO / "edge_ssl" / "recipes" / "configs").glob("*/*.yaml")))

    rng = np.random.default_rng(0)
    utts = []
    for i in range(3):  # a tiny labelled corpus made in the empty folder, relative paths as a user writes them
        save_wav(work / f"u{i}.wav", 0.1 * rng.standard_normal(8000).astype(np.float32))
        utts.append(Utterance(f"u{i}", Path(f"u{i}.wav"), 8000, "a b"))
    write_manifest(utts, work / "train.jsonl")
    out = run(installed.parent / "edge-ssl", "finetune", "-c", "ctc/tiny", "train.max_steps=2",
              "data.train_manifest=train.jsonl", "data.valid_manifest=train.jsonl", "train.device=cpu", cwd=work)
    assert "runs/ctc_tiny/model.safetensors" in out
    assert (work / "runs" / "ctc_tiny" / "model.safetensors").is_file()
    assert (work / "runs" / "ctc_tiny" / "valid" / "summary.json").is_file()


@pytest.mark.slow  # about 2 min on 2 cores: the whole TTS corpus of the tiny demo
def test_the_wheel_runs_the_demos_first_stage_from_an_empty_folder(installed, tmp_path):
    work = tmp_path / "empty"
    work.mkdir()
    run(installed.parent / "edge-ssl", "demo", "--only", "corpus", "--root", "out", cwd=work, timeout=900)
    assert list(work.glob("out/tiny/**/train.jsonl")), "the corpus stage wrote no train manifest"
