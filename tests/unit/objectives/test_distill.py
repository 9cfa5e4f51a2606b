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


# --- parity with DistilHuBERT (Chang et al. 2022, Eq. 1; s3prl distiller ``compute_loss``: L1 loss_type,
# cosine_loss 1), written as plain loops: per head n, the mean over real frames of
# mean_d |pred - target| - lambda log sigmoid(cos(pred, target)); the total is the mean over heads.

def reference_distill(pred, target, lengths, lam) -> tuple[float, list[float]]:
    B, N, _, D = pred.shape
    heads, l1s = [], []
    for n in range(N):
        l1 = cos_term = 0.0
        frames = 0
        for b in range(B):
            for t in range(lengths[b]):
                p, y = pred[b, n, t].tolist(), target[b, n, t].tolist()
                l1 += sum(abs(u - v) for u, v in zip(p, y)) / D
                norms = math.sqrt(sum(u * u for u in p)) * math.sqrt(sum(v * v for v in y))
                cos = sum(u * v for u, v in zip(p, y)) / norms
                cos_term += -math.log(1.0 / (1.0 + math.exp(-cos)))
                frames += 1
        heads.append((l1 + lam * cos_term) / frames)
        l1s.append(l1 / frames)
    return sum(heads) / N, l1s


@pytest.mark.parametrize("lengths", [[6, 6], [6, 4]])  # no padding: s3prl's plain means; padding left out
def test_matches_the_distilhubert_formula(lengths):
    g = torch.Generator().manual_seed(0)
    pred, target = torch.randn(2, 3, 6, 8, generator=g), torch.randn(2, 3, 6, 8, generator=g)
    pad = torch.arange(6)[None, :] >= torch.tensor(lengths)[:, None]
    ref, ref_l1 = reference_distill(pred.double(), target.double(), lengths, lam=1.0)
    loss, l1, _ = distill_loss(pred, target, pad if pad.any() else None)
    assert loss.item() == pytest.approx(ref, rel=1e-6)
    assert l1.tolist() == pytest.approx(ref_l1, rel=1e-6)


def test_distill_hand_case():
    # One frame, one head: pred (1, 0), target (0, 1). L1 = (1 + 1) / 2 = 1; cos = 0, -log sigmoid(0) = ln 2.
    # lambda 1: 1 + 0.693147 = 1.693147; lambda 0.5: 1 + 0.346574 = 1.346574.
    pred, target = torch.tensor([1.0, 0.0]).view(1, 1, 1, 2), torch.tensor([0.0, 1.0]).view(1, 1, 1, 2)
    assert distill_loss(pred, target)[0].item() == pytest.approx(1.693147, abs=1e-6)
    assert distill_loss(pred, target, cos_weight=0.5)[0].item() == pytest.approx(1.346574, abs=1e-6)
