"""Export a ViT encoder to ExecuTorch (.pte, XNNPACK) or ONNX, and verify the artifact against eager.

Pipeline (as ExecuTorch's examples): wrap -> ``torch.export`` -> lower -> save (atomic) -> verify.
The artifact maps one normalised image (1, C, S, S) to its feature (1, D). Its contract lives inside the
.pte (``constant_methods``: image_size, in_chans, embed_dim) and in a JSON sidecar ``<artifact>.json``
beside either format, with the input normalisation and a golden input/output pair for device-side tests.
"""
from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch import nn

from edge_ssl.errors import EdgeSSLError
from edge_ssl.io import atomic_path, atomic_write_text
from edge_ssl.models.vit import ViT
from edge_ssl.vision.images import MEAN, STD

log = logging.getLogger(__name__)


class ViTFeatures(nn.Module):
    """The exported graph: normalised image (1, C, S, S) -> feature (1, D) (``cfg.pool``)."""

    def __init__(self, vit: ViT):
        super().__init__()
        self.vit = vit.eval()

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.vit.features(images)


@dataclass
class ExportReport:
    path: str
    format: str
    size_bytes: int
    max_abs_diff: float      # artifact vs eager on the golden input and 3 more random images
    partitions: int | None   # XNNPACK delegate partitions (.pte): 1 means the whole graph is delegated
    verified: bool


def _example(vit: ViT) -> torch.Tensor:
    c = vit.cfg
    return torch.randn(1, c.in_chans, c.image_size, c.image_size, generator=torch.Generator().manual_seed(0))


def _to_pte(module: nn.Module, example: torch.Tensor, path: Path, meta: dict) -> int:
    from executorch.backends.xnnpack.partition.xnnpack_partitioner import XnnpackPartitioner
    from executorch.exir import to_edge_transform_and_lower

    ep = torch.export.export(module, (example,), strict=False)
    edge = to_edge_transform_and_lower(ep, partitioner=[XnnpackPartitioner()], constant_methods=meta)
    graph = edge.exported_program().graph_module.graph
    partitions = sum(1 for n in graph.nodes if n.op == "call_function" and "executorch_call_delegate" in str(n.target))
    program = edge.to_executorch()
    with atomic_path(path) as tmp:
        tmp.write_bytes(program.buffer)
    return partitions


def _to_onnx(module: nn.Module, example: torch.Tensor, path: Path, meta: dict) -> None:
    import onnx

    with atomic_path(path) as tmp:
        prog = torch.onnx.export(module, (example,), input_names=["images"], output_names=["features"],
                                 dynamo=True, optimize=True, verbose=False)
        prog.save(str(tmp))
        model = onnx.load(str(tmp))
        for k, v in meta.items():
            entry = model.metadata_props.add()
            entry.key, entry.value = k, str(v)
        onnx.save(model, str(tmp))


class _Artifact:
    """Minimal batch-1 runner over a .pte or .onnx (used to verify; ``edge_ssl.runtime`` is the general one)."""

    def __init__(self, path: Path):
        self.path = path
        if path.suffix == ".pte":
            from executorch.runtime import Runtime

            self._program = Runtime.get().load_program(path)  # keep the program alive (STACK.md pitfall 5)
            self._method = self._program.load_method("forward")
        elif path.suffix == ".onnx":
            import onnxruntime as ort

            self._sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        else:
            raise EdgeSSLError(f"{path}: unknown artifact type (expected .pte or .onnx)")

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        if self.path.suffix == ".pte":
            return self._method.execute([x.contiguous()])[0]
        name = self._sess.get_inputs()[0].name
        return torch.from_numpy(self._sess.run(None, {name: x.numpy()})[0])


def open_artifact(path: str | Path) -> _Artifact:
    path = Path(path)
    if not path.is_file():
        raise EdgeSSLError(f"artifact not found: {path}")
    return _Artifact(path)


def sidecar_path(path: str | Path) -> Path:
    return Path(str(path) + ".json")


def read_sidecar(path: str | Path) -> dict:
    side = sidecar_path(path)
    if not side.is_file():
        raise EdgeSSLError(f"{path}: no metadata file {side.name} beside it (export it with `edge-ssl export-vit`)")
    return json.loads(side.read_text())


def export_vit(vit: ViT, out: str | Path, atol: float = 1e-3) -> ExportReport:
    """Export ``vit`` to ``out`` (.pte or .onnx by suffix), verify against eager, write the sidecar."""
    out = Path(out)
    if out.suffix not in (".pte", ".onnx"):
        raise EdgeSSLError(f"{out}: export target must end in .pte or .onnx")
    module = ViTFeatures(vit).eval()
    example = _example(vit)
    c = vit.cfg
    meta = {"image_size": c.image_size, "in_chans": c.in_chans, "embed_dim": c.embed_dim}
    partitions = None
    with torch.no_grad():
        if out.suffix == ".pte":
            partitions = _to_pte(module, example, out, meta)
        else:
            _to_onnx(module, example, out, meta)
        runner = open_artifact(out)
        inputs = [example] + [torch.randn(example.shape, generator=torch.Generator().manual_seed(i)) for i in (1, 2, 3)]
        diff = max(float((runner(x).reshape(1, -1) - module(x)).abs().max()) for x in inputs)
        golden_out = module(example)
    verified = diff <= atol
    side = {"kind": "vit_features", **meta, "pool": c.pool, "input": "images (1, C, S, S), RGB scaled to [0,1] "
            "then normalised with mean/std", "mean": list(MEAN), "std": list(STD), "output": "features (1, D)",
            "golden_input": example.flatten().tolist(), "golden_output": golden_out.flatten().tolist(),
            "max_abs_diff_vs_eager": diff}
    atomic_write_text(sidecar_path(out), json.dumps(side) + "\n")
    report = ExportReport(str(out), out.suffix[1:], out.stat().st_size, diff, partitions, verified)
    if not verified:
        raise EdgeSSLError(f"{out}: artifact differs from eager by {diff:.3g} (> {atol}); not verified")
    log.info("exported %s", asdict(report))
    return report
