"""Parity of the MAE loss with He et al. 2022 (facebookresearch/mae ``forward_loss``), as plain loops: each
masked patch's target normalised by its own mean and unbiased variance (eps 1e-6) when ``norm_pix``; the
per-patch mean squared error averaged over masked patches only."""
import math

import pytest
import torch

from edge_ssl.objectives.mae import mae_loss


def reference_mae(pred, target, mask, norm_pix) -> float:
    total, count = 0.0, 0
    for p_img, t_img, m_img in zip(pred.tolist(), target.tolist(), mask.tolist()):
        for p, t, m in zip(p_img, t_img, m_img):
            if not m:
                continue
            if norm_pix:
                mean = sum(t) / len(t)
                var = sum((v - mean) ** 2 for v in t) / (len(t) - 1)
                t = [(v - mean) / math.sqrt(var + 1e-6) for v in t]
            total += sum((u - v) ** 2 for u, v in zip(p, t)) / len(t)
            count += 1
    return total / count


@pytest.mark.parametrize("norm_pix", [True, False])
def test_matches_the_reference(norm_pix):
    g = torch.Generator().manual_seed(0)
    pred, target = torch.randn(2, 6, 12, generator=g), torch.rand(2, 6, 12, generator=g) * 3
    mask = torch.tensor([[1.0, 0, 1, 1, 0, 0], [0, 1, 1, 0, 0, 1]])            # 1 = masked (scored)
    ref = reference_mae(pred.double(), target.double(), mask.bool(), norm_pix)
    assert mae_loss(pred, target, mask, norm_pix).item() == pytest.approx(ref, rel=1e-6)


def test_mae_hand_case():
    # Two patches of 2 pixels, the first masked. Target (0, 2): mean 1, unbiased variance 2, so the normalised
    # target is (-1, 1) / sqrt(2 + 1e-6) = (-0.707107, 0.707107); a zero prediction scores 1 / (2 + 1e-6) =
    # 0.5 (to 2e-7). The visible patch, however wrong, does not count. Raw pixels: (0 + 4) / 2 = 2.
    pred = torch.tensor([[[0.0, 0.0], [50.0, -50.0]]])
    target = torch.tensor([[[0.0, 2.0], [0.0, 0.0]]])
    mask = torch.tensor([[1.0, 0.0]])
    assert mae_loss(pred, target, mask).item() == pytest.approx(0.5, abs=1e-6)
    assert mae_loss(pred, target, mask, norm_pix=False).item() == 2.0
