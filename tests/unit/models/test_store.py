import pytest
import torch

from edge_ssl.asr.decode.tokenizer import CharTokenizer
from edge_ssl.errors import EdgeSSLError
from edge_ssl.models.ctc import CTCModel
from edge_ssl.models.speech_encoder import SpeechEncoder, tiny
from edge_ssl.models.store import load_model, save_model


def test_round_trip_ctc(tmp_path):
    tok = CharTokenizer()
    m = CTCModel(tiny(), tok.vocab_size).eval()
    save_model(m, tmp_path / "m.safetensors", "ctc", {"encoder": tiny()}, vocab=list(tok.tokens))
    m2, meta = load_model(tmp_path / "m.safetensors")
    x = torch.randn(1, 8000)
    torch.testing.assert_close(m2(x)[0], m(x)[0])
    assert meta["vocab"][0] == "<blk>"


def test_mismatch_names_tensors(tmp_path):
    m = SpeechEncoder(tiny())
    save_model(m, tmp_path / "m.safetensors", "speech_encoder", tiny(num_layers=3))
    with pytest.raises(EdgeSSLError, match=r"missing .*encoder\.layers\.2"):
        load_model(tmp_path / "m.safetensors")


def test_corrupt_file(tmp_path):
    p = tmp_path / "bad.safetensors"
    p.write_bytes(b"\x00garbage" * 10)
    with pytest.raises(EdgeSSLError, match="bad.safetensors"):
        load_model(p)
