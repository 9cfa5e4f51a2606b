"""Whisper's position table, compacted for export: fewer rows and fp16 storage only where no value changes."""
import torch

from edge_ssl.models.transformer import SinusoidalPositions


def test_compact_keeps_every_reachable_value_and_halves_an_fp16_exact_table():
    pos = SinusoidalPositions(8, 100)
    pos.weight = pos.weight.half().float()  # as imported from a CTranslate2 file: fp16-rounded
    x = torch.randn(2, 40, 8)
    before = pos(x)
    pos.compact(60)
    assert pos.weight.shape == (60, 8) and pos.weight.dtype == torch.float16 and pos.max_positions == 60
    assert torch.equal(pos(x), before)

    exact = SinusoidalPositions(8, 100)  # computed in fp32: fp16 would round it, so it stays fp32
    ref = exact(x)
    exact.compact(50)
    assert exact.weight.dtype == torch.float32 and exact.weight.shape == (50, 8) and torch.equal(exact(x), ref)
