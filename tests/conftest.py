"""Fixtures shared across the suite: a tiny random-weight CTC model and real (espeak-ng) speech."""
import shutil

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
