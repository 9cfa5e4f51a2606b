"""ExecuTorch: ExportedProgram -> XNNPACK-lowered program with metadata methods -> .pte bytes."""
from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field

import torch

from edge_ssl.runtime.meta import ArtifactMeta

log = logging.getLogger(__name__)

_SYMINT_OPS = ("sym_size", "sym_numel", "sym_stride")  # shape arithmetic, not tensor work


@dataclass
class Lowered:
    buffer: bytes
    delegates: int                                 # XNNPACK partitions
    outside: Counter = field(default_factory=Counter)  # tensor ops left to the portable CPU kernels

    def summary(self) -> str:
        rest = ", ".join(f"{k} x{v}" for k, v in sorted(self.outside.items())) or "none"
        return f"{self.delegates} XNNPACK partition(s); ops outside the delegate: {rest}"


def op_name(target) -> str:
    """``aten.native_layer_norm.default`` for an (Edge)OpOverload; the function name for Python callables."""
    text = str(target)
    if text.startswith("<EdgeOpOverload: "):
        return text[len("<EdgeOpOverload: "):].split(">")[0]
    return text if isinstance(target, torch._ops.OpOverload) else getattr(target, "__name__", text)


def count_partitions(graph_module: torch.fx.GraphModule) -> tuple[int, Counter]:
    """(XNNPACK delegate calls, Counter of tensor ops outside them). Python ``operator`` calls (getitem,
    symbolic-size arithmetic) are not tensor ops and are not counted."""
    delegates, outside = 0, Counter()
    for node in graph_module.graph.nodes:
        if node.op != "call_function":
            continue
        name = op_name(node.target)
        if "executorch_call_delegate" in name:
            delegates += 1
        elif getattr(node.target, "__module__", "") in ("_operator", "operator"):
            continue
        elif not any(s in name for s in _SYMINT_OPS):
            outside[name] += 1
    return delegates, outside


def lower_to_pte(program: torch.export.ExportedProgram, meta: ArtifactMeta) -> Lowered:
    from executorch.backends.xnnpack.partition.xnnpack_partitioner import XnnpackPartitioner
    from executorch.exir import to_edge_transform_and_lower

    edge = to_edge_transform_and_lower(program, partitioner=[XnnpackPartitioner()],
                                       constant_methods=meta.to_constant_methods())
    delegates, outside = count_partitions(edge.exported_program().graph_module)
    lowered = Lowered(edge.to_executorch().buffer, delegates, outside)
    log.debug("lowered: %s", lowered.summary())  # ExportResult.partitions carries it to the caller
    return lowered
