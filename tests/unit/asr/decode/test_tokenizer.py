import pytest

from edge_ssl.asr.decode.greedy import greedy_ids
from edge_ssl.asr.decode.tokenizer import CharTokenizer, normalize_text
from edge_ssl.errors import EdgeSSLError


def test_normalize():
    assert normalize_text("Hello, World! It's 42 'quoted'") == "hello world it's forty two quoted"
    assert normalize_text("1905 — well-known") == "one thousand nine hundred five well known"


def test_round_trip_and_unknown(caplog):
    tok = CharTokenizer()
    ids = tok.encode("Café it's")
    assert tok.decode(ids) == "caf it's"
    assert "é" in caplog.text


def test_tokens_file(tmp_path):
    tok = CharTokenizer()
    tok.save(tmp_path / "tokens.txt")
    assert CharTokenizer.load(tmp_path / "tokens.txt") == tok
    (tmp_path / "bad.txt").write_text("a 0\n")
    with pytest.raises(EdgeSSLError, match="blank"):
        CharTokenizer.load(tmp_path / "bad.txt")


def test_greedy_collapses_repeats_and_blanks():
    import numpy as np
    frames = [0, 2, 2, 0, 2, 1, 1, 3, 0]
    logits = np.eye(5)[frames]
    assert greedy_ids(logits) == [2, 2, 1, 3]
