"""Fixtures shared across the suite: a tiny random-weight CTC model, real (espeak-ng) speech, and the CLI as a
user runs it."""
import shutil
import sys

import pytest

from edge_ssl.deploy.samples import espeak_manifest, random_ctc_model


@pytest.fixture(scope="session")
def tiny_ctc(tmp_path_factory):
    return random_ctc_model(tmp_path_factory.mktemp("model") / "tiny_ctc.safetensors", "tiny")


@pytest.fixture(scope="session")
def speech_manifest(tmp_path_factory):
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng not installed (make system-deps)")
    return espeak_manifest(tmp_path_factory.mktemp("speech"), [
        "the quick brown fox jumps over the lazy dog", "a small model runs on the phone",
        "seven green apples fell from the tree"])


@pytest.fixture
def run_cli(monkeypatch, capsys):
    """``edge-ssl ARGS`` through ``main()`` (errors become a message and an exit code): -> (exit code, stderr)."""
    from edge_ssl.cli import main

    def run(*args):
        monkeypatch.setattr(sys, "argv", ["edge-ssl", *map(str, args)])
        with pytest.raises(SystemExit) as e:
            main()
        return e.value.code, capsys.readouterr().err
    return run
