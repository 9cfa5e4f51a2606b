"""ExecuTorch: ExportedProgram -> XNNPACK-lowered program with metadata methods -> .pte bytes."""
from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field

import torch

from edge_ssl.runtime.meta import ArtifactMeta

log = logging.getLogger(__name__)

_BOOKKEEPING = ("getitem", "sym_size", "floordiv", "add", "mul", "sub")  # Python/symint glue, not tensor ops


@dataclass
class Lowered:
    buffer: bytes
    delegates: int                                 # XNNPACK partitions
    outside: Counter = field(default_factory=Counter)  # tensor ops left to the portable CPU kernels

    def summary(self) -> str:
        rest = ", ".join(f"{k} x{v}" for k, v in sorted(self.outside.items())) or "none"
        return f"{self.delegates} XNNPACK partition(s); ops outside the delegate: {rest}"


def count_partitions(graph_module: torch.fx.GraphModule) -> tuple[int, Counter]:
    delegates, outside = 0, Counter()
    for node in graph_module.graph.nodes:
        if node.op != "call_function":
            continue
        name = getattr(node.target, "__name__", str(node.target))
        if "executorch_call_delegate" in name:
            delegates += 1
        elif not any(name == b or name.startswith(b + ".") for b in _BOOKKEEPING):
            outside[str(node.target).split(":")[0].replace("<EdgeOpOverload", "").strip(" <>")] += 1
    return delegates, outside


def lower_to_pte(program: torch.export.ExportedProgram, meta: ArtifactMeta) -> Lowered:
    from executorch.backends.xnnpack.partition.xnnpack_partitioner import XnnpackPartitioner
    from executorch.exir import to_edge_transform_and_lower

    edge = to_edge_transform_and_lower(program, partitioner=[XnnpackPartitioner()],
                                       constant_methods=meta.to_constant_methods())
    delegates, outside = count_partitions(edge.exported_program().graph_module)
    lowered = Lowered(edge.to_executorch().buffer, delegates, outside)
    log.info("lowered: %s", lowered.summary())
    return lowered
