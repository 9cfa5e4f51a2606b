import math

import pytest
import torch

from edge_ssl.objectives.distill import distill_loss


def test_identical_prediction_leaves_only_the_cosine_floor():
    x = torch.randn(2, 3, 7, 8)
    loss, l1, cos = distill_loss(x, x.clone())
    assert torch.allclose(l1, torch.zeros(3)) and torch.allclose(cos, torch.ones(3), atol=1e-5)
    assert loss.item() == pytest.approx(-math.log(1 / (1 + math.exp(-1))), rel=1e-5)  # -log sigmoid(1)


def test_matches_a_direct_computation_and_ignores_padding():
    torch.manual_seed(0)
    pred, target = torch.randn(2, 2, 5, 4), torch.randn(2, 2, 5, 4)
    pad = torch.tensor([[False] * 5, [False] * 3 + [True] * 2])
    loss, l1, _ = distill_loss(pred, target, pad, cos_weight=0.5)
    valid = [(0, t) for t in range(5)] + [(1, t) for t in range(3)]
    ref = []
    for n in range(2):
        a = torch.stack([pred[b, n, t] for b, t in valid])
        b_ = torch.stack([target[b, n, t] for b, t in valid])
        ref.append((a - b_).abs().mean() - 0.5 * torch.nn.functional.logsigmoid(
            torch.nn.functional.cosine_similarity(a, b_, dim=-1)).mean())
    torch.testing.assert_close(loss, torch.stack(ref).mean())
    garbage = pred.clone()
    garbage[1, :, 3:] = 1e3
    torch.testing.assert_close(distill_loss(garbage, target, pad, 0.5)[0], loss)


def test_shape_mismatch():
    with pytest.raises(ValueError):
        distill_loss(torch.zeros(1, 2, 3, 4), torch.zeros(1, 3, 3, 4))
