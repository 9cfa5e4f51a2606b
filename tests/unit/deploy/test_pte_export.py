"""Export the tiny CTC model to .pte once; check partitions, metadata, equality with eager, range errors,
golden vectors, verify, and bad files."""
import json
import os
import shutil

import numpy as np
import pytest

from edge_ssl.errors import EdgeSSLError
from edge_ssl.runtime import open_runner

# The whole fp32 graph is one XNNPACK partition with nothing left outside. A model change that adds a
# partition or an op the delegate refuses (native_layer_norm, expand_copy, symbolic view, ...) fails here.
EXPECTED_FP32 = {"delegates": 1, "outside": {}}


@pytest.fixture(scope="module")
def exported(tiny_ctc, speech_manifest, tmp_path_factory):
    from edge_ssl.deploy.pipeline import ExportConfig, export_model

    out = tmp_path_factory.mktemp("pte") / "tiny.pte"
    result = export_model(tiny_ctc, out, ExportConfig(max_seconds=3.0, calibration=str(speech_manifest)))
    return result


def test_partitions(exported):
    from edge_ssl.deploy.pte import count_partitions  # noqa: F401  (the counter used by the summary)

    assert exported.partitions == "1 XNNPACK partition(s); ops outside the delegate: none"


def test_partition_counter_sees_non_delegated_ops():
    """The counter itself: a graph with an op XNNPACK refuses (native_layer_norm) must show it."""
    import torch
    from executorch.backends.xnnpack.partition.xnnpack_partitioner import XnnpackPartitioner
    from executorch.exir import to_edge_transform_and_lower

    from edge_ssl.deploy.pte import count_partitions

    class M(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.norm, self.b = torch.nn.Linear(8, 8), torch.nn.LayerNorm(8), torch.nn.Linear(8, 8)

        def forward(self, x):
            return self.b(self.norm(self.a(x)))

    ep = torch.export.export(M().eval(), (torch.randn(4, 8),))
    edge = to_edge_transform_and_lower(ep, partitioner=[XnnpackPartitioner()])
    delegates, outside = count_partitions(edge.exported_program().graph_module)
    assert delegates == 2 and any("layer_norm" in k for k in outside)


def test_metadata_inside_the_artifact(exported, tiny_ctc):
    r = open_runner(exported.artifact)
    m = r.meta
    assert (m.sample_rate, m.frame_stride, m.vocab_size, m.blank_id, m.normalize) == (16000, 320, 29, 0, "none")
    assert (m.min_samples, m.max_samples, m.precision, m.model_name) == (800, 48000, "fp32", "tiny_ctc")
    assert list(m.tokens) == open_runner(tiny_ctc).tokens
    assert (exported.artifact.parent / "tokens.txt").read_text().splitlines()[0] == "<blk> 0"


@pytest.mark.parametrize("n", [800, 801, 16000, 48000])
def test_equals_eager_over_the_range(exported, tiny_ctc, n):
    wave = np.random.default_rng(n).standard_normal(n).astype(np.float32) * 0.1
    out, ref = open_runner(exported.artifact).run(wave), open_runner(tiny_ctc).run(wave)
    assert out.shape == ref.shape
    assert np.abs(out - ref).max() <= 1e-3 * max(1.0, np.abs(ref).max())


@pytest.mark.parametrize("n", [720, 799, 48001])
def test_outside_the_exported_range_is_refused(exported, n):
    with pytest.raises(EdgeSSLError, match="outside the exported range 800..48000"):
        open_runner(exported.artifact).run(np.zeros(n, np.float32))


def test_golden_vectors_and_verify(exported, tmp_path):
    from edge_ssl.deploy.verify import verify_artifact

    assert exported.passed and {r.reference.split()[0] for r in exported.reports} == {"eager", "golden"}
    golden = exported.artifact.with_name(exported.artifact.name + ".golden")
    index = json.loads((golden / "index.json").read_text())
    umask = os.umask(0)
    os.umask(umask)
    assert golden.stat().st_mode & 0o777 == 0o777 & ~umask  # a normal folder, not mkdtemp's 0700
    assert len(index["items"]) == 2 and index["items"][0]["text"] is not None
    first = index["items"][0]
    expected = np.fromfile(golden / first["expected"], dtype="<f4").reshape(first["shape"])
    wave = np.fromfile(golden / first["input"], dtype="<f4")
    assert np.array_equal(open_runner(exported.artifact).run(wave), expected)

    # A copy whose golden output was tampered with must fail verification.
    art = tmp_path / exported.artifact.name
    shutil.copy(exported.artifact, art)
    shutil.copytree(golden, tmp_path / golden.name)
    bad = expected.copy()
    bad[0, 0] += 1.0
    bad.astype("<f4").tofile(tmp_path / golden.name / first["expected"])
    reports = verify_artifact(art)
    assert {r.reference.split()[0]: r.passed for r in reports} == {"eager": True, "golden": False}


@pytest.mark.parametrize("keep", [100, 0.5, 0.99])
def test_truncated_pte_is_a_clear_error(exported, tmp_path, keep):
    data = exported.artifact.read_bytes()
    p = tmp_path / "cut.pte"
    p.write_bytes(data[: int(keep if keep > 1 else len(data) * keep)])
    with pytest.raises(EdgeSSLError):
        open_runner(p).run(np.zeros(16000, np.float32))


def test_export_refuses_a_length_range_it_narrowed():
    """A graph that branches on the length: Dim.DYNAMIC would silently narrow the range to the traced branch."""
    import torch
    from torch.export import Dim

    from edge_ssl.deploy.wrappers import ExportWrapper, export_checked
    from edge_ssl.runtime.meta import ArtifactMeta

    class Branchy(ExportWrapper):
        def forward(self, wave):
            return wave * 2 if wave.shape[1] > 30000 else wave  # (1, S)

        def example_inputs(self, size=None):
            return (torch.zeros(1, 48000),)

        def dynamic_shapes(self):
            return {"wave": {1: Dim.DYNAMIC(min=800, max=48000)}}

    meta = ArtifactMeta("m", "0", "features", 1, min_samples=800, max_samples=48000)
    with pytest.raises(EdgeSSLError, match="export narrowed the input length range 800..48000 samples to 30001..48000"):
        export_checked(Branchy(torch.nn.Identity(), meta))
