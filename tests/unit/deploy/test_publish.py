"""An artifact and its sidecars (tokens.txt, golden vectors) change together (issue 18 #12: kill -9 just after
the artifact's rename left the new .onnx beside the old .golden, and verify failed).

A real process publishes a staged set and is SIGKILLed before each of its renames in turn; whatever the
moment, the next ``recover`` (which verify and export run) leaves the old set or the new one, whole."""
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from edge_ssl.deploy.golden import GoldenItem, golden_dir, read_golden, write_golden
from edge_ssl.atomic import file_sha256
from edge_ssl.deploy.publish import READY, recover, staging_dir
from edge_ssl.errors import EdgeSSLError

REPO = Path(__file__).resolve().parents[3]
STEPS = 5  # renames: old golden aside, new golden in, tokens.txt, artifact; then the staging folder is removed

KILL_AT = """
import os, shutil, signal, sys
from edge_ssl.deploy import publish
done, k = [0], int(sys.argv[2])
def step(fn):
    def wrapped(*a, **kw):
        if done[0] == k:
            os.kill(os.getpid(), signal.SIGKILL)
        done[0] += 1
        return fn(*a, **kw)
    return wrapped
os.replace, shutil.rmtree = step(os.replace), step(shutil.rmtree)
publish.publish(sys.argv[1])
"""


def write_set(artifact: Path, content: str) -> None:
    """A fake artifact (its bytes say which export it is), tokens.txt and golden vectors that name it."""
    artifact.parent.mkdir(parents=True, exist_ok=True)
    artifact.write_text(content)
    artifact.with_name("tokens.txt").write_text(content)
    write_golden(artifact, [GoldenItem(content, np.zeros(4, np.float32), np.ones((2, 3), np.float32), content)],
                 "fp32", artifact)


def which_set(artifact: Path) -> str:
    index, items = read_golden(artifact)  # raises if the vectors are not the artifact's
    names = {artifact.read_text(), artifact.with_name("tokens.txt").read_text(), items[0].name}
    assert len(names) == 1, names
    return names.pop()


@pytest.mark.parametrize("k", range(STEPS + 1))
def test_a_kill_at_any_step_leaves_one_whole_set(tmp_path, k):
    out = tmp_path / "model.onnx"
    write_set(out, "old")
    write_set(staging_dir(out) / out.name, "new")
    r = subprocess.run([sys.executable, "-c", KILL_AT, str(out), str(k)], cwd=REPO)
    assert r.returncode == (-signal.SIGKILL if k < STEPS else 0)
    if k < STEPS:
        assert (staging_dir(out) / READY).exists()  # the journal says: finish me
    recover(out)
    assert which_set(out) == "new" and not staging_dir(out).exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.onnx", "model.onnx.golden", "tokens.txt"]


def test_unfinished_staging_is_left_to_the_next_export(tmp_path):
    out = tmp_path / "model.onnx"
    write_set(out, "old")
    write_set(staging_dir(out) / out.name, "half")  # killed while staging: no READY
    recover(out)                                      # verify: maybe an export still running
    assert which_set(out) == "old" and staging_dir(out).exists()
    recover(out, discard_unfinished=True)             # the next export
    assert which_set(out) == "old" and not staging_dir(out).exists()


def test_golden_vectors_of_another_artifact_are_refused(tmp_path):
    out = tmp_path / "model.onnx"
    write_set(out, "old")
    out.write_text("replaced by hand")
    with pytest.raises(EdgeSSLError, match="belong to another version of model.onnx"):
        read_golden(out)
    assert json.loads((golden_dir(out) / "index.json").read_text())["artifact_sha256"] != file_sha256(out)


# the probe: SIGKILL right after the new artifact's rename
KILL_AFTER_ARTIFACT_RENAME = """
import os, signal, sys
from edge_ssl.deploy.pipeline import ExportConfig, export_model
out, real = sys.argv[2], os.replace
def replace(a, b):
    real(a, b)
    if str(b) == out:
        os.kill(os.getpid(), signal.SIGKILL)
os.replace = replace
export_model(sys.argv[1], out, ExportConfig(max_seconds=3.0))
"""


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    from edge_ssl.deploy.samples import random_ctc_model

    root = tmp_path_factory.mktemp("models")
    return [random_ctc_model(root / f"{n}.safetensors", "tiny", seed=i) for i, n in enumerate("ab")]


def export(model, out, **kw):
    from edge_ssl.deploy.pipeline import ExportConfig, export_model

    return export_model(model, out, ExportConfig(max_seconds=3.0, **kw))


def test_verify_after_a_kill_just_after_the_artifact_rename(models, tmp_path, run_cli):
    out = tmp_path / "model.onnx"
    export(models[0], out)
    r = subprocess.run([sys.executable, "-c", KILL_AFTER_ARTIFACT_RENAME, str(models[1]), str(out)], cwd=REPO)
    assert r.returncode == -signal.SIGKILL
    code, err = run_cli("verify", out)
    assert code in (0, None), err
    index, _ = read_golden(out)
    assert index["source_model"] == str(models[1].resolve()) and not staging_dir(out).exists()


def test_a_failed_export_publishes_nothing(models, tmp_path):
    out = tmp_path / "model.pte"
    export(models[0], tmp_path / "model.onnx")
    before = {p.name: file_sha256(p) for p in tmp_path.iterdir() if p.is_file()}
    with pytest.raises(EdgeSSLError, match="calibration"):  # static int8 without audio: fails mid-export
        export(models[1], out, quant="static")
    assert {p.name: file_sha256(p) for p in tmp_path.iterdir() if p.is_file()} == before
    assert sorted(os.listdir(tmp_path)) == ["model.onnx", "model.onnx.golden", "tokens.txt"]
