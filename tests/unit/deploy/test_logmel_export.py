"""The log-mel front-end exports whole: one XNNPACK partition, and int8 never touches the mel filterbank."""
import numpy as np
import pytest

from edge_ssl.deploy.samples import random_ctc_model
from edge_ssl.runtime import open_runner


@pytest.fixture(scope="module")
def logmel_ctc(tmp_path_factory):
    return random_ctc_model(tmp_path_factory.mktemp("model") / "tiny_logmel.safetensors", "tiny_logmel")


def test_fp32_pte_is_one_partition_and_equals_eager(logmel_ctc, tmp_path):
    from edge_ssl.deploy.pipeline import ExportConfig, export_model

    r = export_model(logmel_ctc, tmp_path / "m.pte", ExportConfig(max_seconds=3.0))
    assert r.partitions == "1 XNNPACK partition(s); ops outside the delegate: none" and r.passed
    wave = np.random.default_rng(0).standard_normal(20000).astype(np.float32) * 0.1
    np.testing.assert_allclose(open_runner(r.artifact).run(wave), open_runner(logmel_ctc).run(wave),
                               atol=2e-3, rtol=1e-3)


def test_onnx_dynamic_int8_keeps_the_mel_matmul_fp32(logmel_ctc, tmp_path):
    import onnx

    from edge_ssl.deploy.pipeline import ExportConfig, export_model

    r = export_model(logmel_ctc, tmp_path / "m.onnx", ExportConfig(quant="dynamic", max_seconds=3.0))
    nodes = onnx.load(str(r.artifact)).graph.node
    log_input = next(n for n in nodes if n.op_type == "Log").input[0]
    producer = {o: n for n in nodes for o in n.output}
    mel = producer[producer[log_input].input[0]]                       # Log(Add(MatMul(power, fbank), 1))
    assert mel.op_type == "MatMul"                                     # fp32, not MatMulInteger
    assert any(n.op_type == "MatMulInteger" for n in nodes)            # the transformer is int8


def test_quantizer_filter_never_annotates_the_logmel():
    import torch

    from edge_ssl.deploy.quantize import _weighted_op_filter

    class N:
        op, target = "call_function", torch.ops.aten.linear.default
        meta = {"nn_module_stack": {"k": ("model.encoder.feature_extractor.logmel", object)}}

    assert not _weighted_op_filter(False)(N())


def test_length_range_starts_at_two_frames(logmel_ctc):
    from edge_ssl.runtime.eager import load_model_and_meta

    _, meta = load_model_and_meta(logmel_ctc, min_samples=800, max_samples=48000)
    assert meta.min_samples == 1040 + 320 and meta.num_frames(meta.min_samples) == 2
