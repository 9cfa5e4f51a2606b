"""Forward FLOPs of a model, counted by torch's ``FlopCounterMode`` (conv, matmul, attention).

torch registers FLOP formulas for the CUDA attention kernels only; on the CPU ``scaled_dot_product_attention``
runs ``_scaled_dot_product_flash_attention_for_cpu``, which it would count as zero. The same formula
(2 matmuls of Q K^T and P V) is registered for it here.
"""
from __future__ import annotations

import torch
from torch.utils.flop_counter import FlopCounterMode, register_flop_formula, sdpa_flop_count

_CPU_SDPA = torch.ops.aten._scaled_dot_product_flash_attention_for_cpu


@register_flop_formula(_CPU_SDPA)
def _cpu_sdpa_flops(query_shape, key_shape, value_shape, *args, out_shape=None, **kwargs) -> int:
    return sdpa_flop_count(query_shape, key_shape, value_shape)


def forward_flops(fn, *inputs: torch.Tensor) -> int:
    """FLOPs of ``fn(*inputs)`` run once without gradients."""
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        fn(*inputs)
    return counter.get_total_flops()
