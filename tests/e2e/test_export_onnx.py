"""End to end through the CLI: export ONNX (fp32 and ORT int8) of a tiny CTC model, verify it, corrupt it."""
import json

import numpy as np
import pytest
from typer.testing import CliRunner

from edge_ssl.cli import app
from edge_ssl.errors import EdgeSSLError
from edge_ssl.runtime import open_runner

pytestmark = pytest.mark.e2e


def invoke(*args):
    res = CliRunner().invoke(app, [str(a) for a in args])
    return res.exit_code, res.output + (str(res.exception) if res.exception and res.exit_code != 1 else "")


@pytest.fixture(scope="module")
def onnx_fp32(tiny_ctc, speech_manifest, tmp_path_factory):
    out = tmp_path_factory.mktemp("onnx") / "tiny.onnx"
    code, text = invoke("export", "onnx", tiny_ctc, "--out", out, "--calibration", speech_manifest, "--max-seconds", 5)
    assert code == 0, text
    assert "PASS" in text and "FAIL" not in text
    return out


def test_export_writes_metadata_tokens_and_golden(onnx_fp32):
    import onnx

    props = {p.key: p.value for p in onnx.load(str(onnx_fp32)).metadata_props}
    assert props["sample_rate"] == "16000" and props["frame_stride"] == "320" and props["blank_id"] == "0"
    assert props["min_samples"] == "800" and props["max_samples"] == "80000" and props["vocab_size"] == "29"
    assert json.loads(props["tokens"])[0] == "<blk>" and props["model_name"] == "tiny_ctc"
    assert (onnx_fp32.parent / "tokens.txt").is_file()
    index = json.loads((onnx_fp32.parent / "tiny.onnx.golden" / "index.json").read_text())
    assert [it["name"] for it in index["items"]] == ["espeak_00", "espeak_01"]


def test_onnx_equals_eager_and_refuses_out_of_range(onnx_fp32, tiny_ctc):
    wave = np.random.default_rng(1).standard_normal(40000).astype(np.float32) * 0.1
    out, ref = open_runner(onnx_fp32).run(wave), open_runner(tiny_ctc).run(wave)
    assert np.abs(out - ref).max() <= 1e-3 * max(1.0, np.abs(ref).max())
    with pytest.raises(EdgeSSLError, match="outside the exported range"):
        open_runner(onnx_fp32).run(np.zeros(80001, np.float32))


def test_verify_cli_passes_then_fails_on_a_mismatch(onnx_fp32, tiny_ctc, speech_manifest, tmp_path):
    code, text = invoke("verify", onnx_fp32, "--json", tmp_path / "v.json")
    assert code == 0, text
    assert all(r["passed"] for r in json.loads((tmp_path / "v.json").read_text()))
    # the same artifact against a different model (other random weights) must fail, exit 1
    from edge_ssl.deploy.samples import random_ctc_model

    other = random_ctc_model(tmp_path / "other.safetensors", "tiny", seed=1)
    wav = sorted(speech_manifest.parent.glob("*.wav"))[0]
    code, text = invoke("verify", onnx_fp32, wav, "--model", other)
    assert code == 1 and "FAIL" in text


def test_quantize_onnx_int8_reports_accuracy(tiny_ctc, speech_manifest, tmp_path):
    out = tmp_path / "tiny_int8.onnx"
    code, text = invoke("quantize", tiny_ctc, "--backend", "onnx", "--scheme", "dynamic", "--out", out,
                        "--calibration", speech_manifest, "--max-seconds", 5)
    assert code == 0, text
    assert "fp32 eager" in text and "int8-dynamic onnx" in text and "CER" in text
    assert open_runner(out).meta.precision == "int8-dynamic"
    import onnx

    ops = {n.op_type for n in onnx.load(str(out)).graph.node}
    assert {"DynamicQuantizeLinear", "MatMulInteger"} <= ops  # ORT dynamic int8 MatMul


@pytest.mark.parametrize("cut", [0.3, 0.9])
def test_truncated_onnx_is_a_clear_error(onnx_fp32, tmp_path, cut):
    data = onnx_fp32.read_bytes()
    p = tmp_path / "cut.onnx"
    p.write_bytes(data[: int(len(data) * cut)])
    with pytest.raises(EdgeSSLError, match="cut.onnx"):
        open_runner(p)
