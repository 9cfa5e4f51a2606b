"""``edge-ssl evaluate --engine``: what a user sees when an engine cannot be used (or is given an LM)."""
import sys

import pytest


@pytest.mark.parametrize("engine,module,package", [("whisper-tiny.en", "faster_whisper", "faster-whisper"),
                                                    ("whisper-base", "faster_whisper", "faster-whisper"),
                                                    ("pocketsphinx", "pocketsphinx", "pocketsphinx")])
def test_missing_engine_package_names_the_extra(monkeypatch, run_cli, tmp_path, engine, module, package):
    monkeypatch.setitem(sys.modules, module, None)  # import now raises ImportError, as when not installed
    code, err = run_cli("evaluate", "--engine", engine, str(tmp_path / "m.jsonl"))
    assert code == 2
    assert err.startswith("error: ") and package in err and "[peers]" in err


def test_unknown_engine_and_wrong_arity_are_clear_errors(run_cli):
    code, err = run_cli("evaluate", "--engine", "kaldi", "m.jsonl")
    assert code == 2 and "pocketsphinx, whisper-tiny.en, whisper-base" in err
    code, err = run_cli("evaluate", "--engine", "pocketsphinx")
    assert code == 2 and "MANIFEST" in err  # typer: missing argument
    code, err = run_cli("evaluate", "m.jsonl")
    assert code == 2 and "MODEL MANIFEST" in err


def test_lm_with_an_engine_is_a_clear_error(run_cli, tmp_path):
    code, err = run_cli("evaluate", "--engine", "pocketsphinx", "--lm", tmp_path / "lm.arpa", tmp_path / "m.jsonl")
    assert code == 2 and "--lm" in err and "pocketsphinx" in err
