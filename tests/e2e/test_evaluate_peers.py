"""Peer engines (pocketsphinx, Whisper tiny.en) scored for real by ``edge-ssl evaluate --engine`` on flite speech."""
import json

import pytest

from edge_ssl.asr.evaluate.peers import ENGINES
from tts_clips import speak

pytestmark = pytest.mark.e2e

SENTENCES = ["the quick brown fox jumps over the lazy dog", "please call stella and ask her to bring these things",
             "seven green apples fell from the tree"]


@pytest.fixture(scope="module")
def flite_manifest(tmp_path_factory):
    """Three sentences in flite's kal voice (8 kHz, clear), stored at 16 kHz."""
    return speak("flite", "kal", SENTENCES, tmp_path_factory.mktemp("flite"))


@pytest.mark.parametrize("engine", ENGINES)
def test_evaluate_engine_scores_real_speech(engine, flite_manifest, tmp_path):
    pytest.importorskip("pocketsphinx" if engine == "pocketsphinx" else "faster_whisper")
    from typer.testing import CliRunner

    from edge_ssl.cli import app

    r = CliRunner().invoke(app, ["evaluate", "--engine", engine, str(flite_manifest), "--out", str(tmp_path)])
    assert r.exit_code == 0, (r.output, r.exception)
    summary = json.loads((tmp_path / "summary.json").read_text())
    rows = [json.loads(x) for x in (tmp_path / "results.jsonl").read_text().splitlines()]
    assert (summary["num_utterances"], summary["num_failed"]) == (3, 0)
    assert summary["cer"] < 0.35 and summary["rtf"] > 0  # measured: pocketsphinx 0.24, whisper-tiny.en 0.07
    assert summary["decoder"].startswith(engine.split("-")[0])
    assert [x["ref"] for x in rows] == SENTENCES and all(x["hyp"] for x in rows)


def test_one_run_scores_a_model_and_engines_into_one_table(flite_manifest, tmp_path, tiny_ctc, run_cli):
    pytest.importorskip("faster_whisper")
    pytest.importorskip("pocketsphinx")
    code, err = run_cli("evaluate", tiny_ctc, flite_manifest, "-e", "pocketsphinx", "-e", "whisper-tiny.en",
                        "--out", tmp_path)
    assert code == 0, err
    table = (tmp_path / "comparison.md").read_text().splitlines()
    assert [r.split("|")[1].strip() for r in table[2:]] == ["tiny_ctc", "pocketsphinx", "whisper-tiny.en"]
    scores = json.loads((tmp_path / "comparison.json").read_text())
    assert scores["whisper-tiny.en"]["cer"] < 0.35 < scores["tiny_ctc"]["cer"]  # a random model spells nothing
    assert all((tmp_path / name / "summary.json").is_file() for name in scores)


def test_models_of_one_file_name_get_one_row_each(flite_manifest, tmp_path, tiny_ctc, run_cli):
    import shutil

    for run in ("run_a", "run_b"):
        (tmp_path / run).mkdir()
        shutil.copy(tiny_ctc, tmp_path / run / "model_int8.safetensors")
    code, err = run_cli("evaluate", tmp_path / "run_a" / "model_int8.safetensors",
                           tmp_path / "run_b" / "model_int8.safetensors", flite_manifest, "--out", tmp_path / "eval")
    assert code == 0, err
    scores = json.loads((tmp_path / "eval" / "comparison.json").read_text())
    assert list(scores) == ["run_a/model_int8.safetensors", "run_b/model_int8.safetensors"]
    assert scores["run_a/model_int8.safetensors"]["cer"] == scores["run_b/model_int8.safetensors"]["cer"]
