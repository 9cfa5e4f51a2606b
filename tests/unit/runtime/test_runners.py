"""The eager Runner and the checks every Runner shares; bad files for every backend."""
import numpy as np
import pytest

from edge_ssl.errors import EdgeSSLError
from edge_ssl.runtime import open_runner


def test_eager_runner_exposes_metadata_and_runs(tiny_ctc):
    r = open_runner(tiny_ctc)
    assert (r.sample_rate, r.blank_id, r.frame_stride, r.vocab_size) == (16000, 0, 320, 29)
    assert r.tokens[:2] == ["<blk>", "|"] and r.min_samples == 400
    out = r.run(np.zeros(16000, np.float32))
    assert out.shape == (49, 29) and out.dtype == np.float32


@pytest.mark.parametrize("n, match", [(399, "outside the range the model accepts.*pad it"),
                                      (16000 * 30 + 1, "outside the range the model accepts.*split it")])
def test_out_of_range_input_is_a_clear_error(tiny_ctc, n, match):
    with pytest.raises(EdgeSSLError, match=match):
        open_runner(tiny_ctc).run(np.zeros(n, np.float32))


def test_bad_waveforms(tiny_ctc):
    r = open_runner(tiny_ctc)
    with pytest.raises(EdgeSSLError, match="mono waveform"):
        r.run(np.zeros((2, 16000), np.float32))
    with pytest.raises(EdgeSSLError, match="NaN"):
        r.run(np.full(16000, np.nan, np.float32))


def test_torchao_int8_weight_stays_close(tiny_ctc):
    wave = np.random.default_rng(0).standard_normal(16000).astype(np.float32) * 0.1
    ref, q = open_runner(tiny_ctc).run(wave), open_runner(tiny_ctc, quant="int8-weight").run(wave)
    cos = float((ref * q).sum() / np.linalg.norm(ref) / np.linalg.norm(q))
    assert cos > 0.99


@pytest.mark.parametrize("name, data, match", [
    ("x.pte", b"", "empty file"),
    ("x.pte", b"\x00" * 100, "not an ExecuTorch"),
    ("x.pte", bytes(range(256)) * 4, "not an ExecuTorch"),
    ("x.onnx", b"", "empty file"),
    ("x.onnx", b"\x08\x07garbage" * 50, "not a loadable ONNX model"),
    ("x.safetensors", b"{not safetensors", "not a readable safetensors"),
    ("x.bin", b"1", "unknown model/artifact suffix"),
])
def test_bad_files_are_clear_errors(tmp_path, name, data, match):
    p = tmp_path / name
    p.write_bytes(data)
    with pytest.raises(EdgeSSLError, match=match):
        open_runner(p)


def test_missing_file(tmp_path):
    with pytest.raises(EdgeSSLError, match="not found"):
        open_runner(tmp_path / "nope.pte")
