"""``edge-ssl import`` end to end through the CLI entry point (argument parsing, exit codes, files written)."""
import sys

import pytest

from hf_reference import VOCAB, random_model, save_folder
from edge_ssl.asr.decode.tokenizer import CharTokenizer
from edge_ssl.cli import main
from edge_ssl.models.store import load_model


def run_cli(monkeypatch, *args):
    monkeypatch.setattr(sys, "argv", ["edge-ssl", *map(str, args)])
    with pytest.raises(SystemExit) as e:
        main()
    return e.value.code


def test_import_ctc_folder_with_verify(tmp_path, monkeypatch, capsys):
    folder = save_folder(random_model("wav2vec2", ctc=True), tmp_path / "hf", vocab=VOCAB)
    out = tmp_path / "out" / "teacher.safetensors"
    assert run_cli(monkeypatch, "import", folder, "--out", out, "--verify") in (0, None)
    printed = capsys.readouterr().out
    assert "max |diff| vs transformers per hidden state" in printed
    model, meta = load_model(out)
    assert meta["kind"] == "ctc" and meta["family"] == "wav2vec2"
    assert CharTokenizer.load(out.parent / "tokens.txt").tokens[0] == "<blk>"


def test_bad_source_exits_2_and_writes_nothing(tmp_path, monkeypatch, capsys):
    out = tmp_path / "teacher.safetensors"
    assert run_cli(monkeypatch, "import", tmp_path / "missing", "--out", out) == 2
    assert "error: import source not found" in capsys.readouterr().err
    assert not out.exists()
