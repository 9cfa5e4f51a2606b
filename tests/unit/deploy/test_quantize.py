"""PT2E static int8 for XNNPACK: the whole graph must still lower to one partition."""
import numpy as np
import pytest

from edge_ssl.runtime import open_runner

# Static int8 (Linear/Conv int8; norms, softmax, GELU, the first conv block and the feature projection fp32): one
# XNNPACK partition and nothing outside it.
EXPECTED_INT8 = "1 XNNPACK partition(s); ops outside the delegate: none"


def test_frontend_filter_keeps_the_first_conv_block_fp32():
    import torch

    from edge_ssl.deploy.quantize import _weighted_op_filter

    class N:
        op, target = "call_function", torch.ops.aten.conv1d.default

        def __init__(self, path):
            self.meta = {"nn_module_stack": {"k": (path, object)}}

    first = N("model.encoder.feature_extractor.conv_layers.0.conv")      # on the raw wave
    later = N("model.encoder.feature_extractor.conv_layers.3.conv")
    layer = N("model.encoder.encoder.layers.0.ffn.fc1")
    assert not _weighted_op_filter(True)(first) and _weighted_op_filter(False)(first)
    assert _weighted_op_filter(True)(later) and _weighted_op_filter(False)(later)
    assert _weighted_op_filter(True)(layer)
    assert _weighted_op_filter(True)(N("model.encoder.feature_extractor.conv_layers.01.conv"))  # whole path parts

    class Placeholder:  # a conv's weight/bias: the annotator asks the filter about them too
        op, meta = "placeholder", {}

    assert _weighted_op_filter(True)(Placeholder())
    assert _weighted_op_filter(False)(N("model.encoder.encoder.pos_conv.conv"))
    assert not _weighted_op_filter(False)(N("model.encoder.feature_projection.proj"))


@pytest.mark.slow
def test_static_int8_pte_partitions_and_accuracy(tiny_ctc, speech_manifest, tmp_path):
    from edge_ssl.deploy.pipeline import ExportConfig, export_model

    r = export_model(tiny_ctc, tmp_path / "tiny_int8.pte",
                     ExportConfig(quant="static", calibration=str(speech_manifest), max_seconds=3.0))
    assert r.partitions == EXPECTED_INT8 and r.passed
    wave = np.random.default_rng(0).standard_normal(16000).astype(np.float32) * 0.1
    q, ref = open_runner(r.artifact).run(wave), open_runner(tiny_ctc).run(wave)
    assert open_runner(r.artifact).meta.precision == "int8-static"
    assert float((q * ref).sum() / np.linalg.norm(q) / np.linalg.norm(ref)) > 0.95
