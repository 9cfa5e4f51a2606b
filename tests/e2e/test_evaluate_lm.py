"""``edge-ssl build-lm`` then ``edge-ssl evaluate --lm`` on real TTS speech: the bundled model and a
.safetensors CTC model both decode with the LM, and the LM lowers the bundled model's WER."""
import json

import pytest
from typer.testing import CliRunner

from edge_ssl.assets import bundled_model
from edge_ssl.cli import app
from tts_clips import speak

pytestmark = pytest.mark.e2e
pytest.importorskip("flashlight.lib.text.decoder", reason="flashlight-text not installed (extra: lm)")

SENTENCES = ["the children played in the garden after school", "she bought a new coat for the winter"]
OTHER_TEXT = ["the children went to school", "she played in the snow after the winter", "a new coat for her",
              "they bought bread in the garden"]


def invoke(*args) -> None:
    r = CliRunner().invoke(app, [str(a) for a in args])
    assert r.exit_code == 0, (r.output, r.exception)


@pytest.fixture(scope="module")
def lm(tmp_path_factory):
    """An LM from text holding the test sentences among others (this test checks the decoder works, not how
    well an LM generalises: docs/finetune.md has held-out numbers), plus a manifest it must leave out."""
    folder = tmp_path_factory.mktemp("lm")
    (folder / "text.txt").write_text("\n".join(SENTENCES + OTHER_TEXT) + "\n")
    (folder / "held_out.jsonl").write_text(json.dumps(
        {"id": "x", "audio": "x.wav", "num_samples": 1, "text": "They bought bread in the garden."}) + "\n")
    invoke("build-lm", folder / "text.txt", "--exclude", folder / "held_out.jsonl", "--out", folder / "lm.arpa")
    assert "bought bread" not in (folder / "lm.arpa").read_text()
    return folder / "lm.arpa"


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    return speak("flite", "rms", SENTENCES, tmp_path_factory.mktemp("rms"))  # a voice the model never heard


def evaluate(model, manifest, out, *lm_args) -> dict:
    invoke("evaluate", model, manifest, "--out", out, *lm_args)
    return json.loads((out / "summary.json").read_text())


def test_lm_lowers_the_bundled_model_wer(lm, clips, tmp_path):
    greedy = evaluate(bundled_model("pte"), clips, tmp_path / "greedy")
    beam = evaluate(bundled_model("pte"), clips, tmp_path / "beam", "--lm", lm, "--beam", 20)
    assert (greedy["decoder"], beam["decoder"]) == ("greedy", "beam+lm")
    assert beam["wer"] < greedy["wer"] - 0.2, (greedy, beam)  # measured 0.94 -> 0.44


def test_safetensors_and_onnx_models_take_the_lm(lm, clips, tiny_ctc, tmp_path):
    for model in (tiny_ctc, bundled_model("onnx")):
        summary = evaluate(model, clips, tmp_path / model.suffix[1:], "--lm", lm, "--lm-weight", 1, "--word-score", 1)
        assert summary["decoder"] == "beam+lm" and summary["num_utterances"] == 2
