"""Frozen-feature evaluation: the raw-pixel baseline, BN-style standardisation, per-layer features."""
import numpy as np
import torch

from edge_ssl.models.vit import ViT, ViTConfig
from edge_ssl.vision.builtin import ImageSet
from edge_ssl.vision.evaluate import evaluate_features, layer_scores, pixel_embed_fn, standardize


def test_standardize_uses_the_training_statistics_only():
    g = torch.tensor([[1.0, 10.0], [3.0, 10.0]])
    t = torch.tensor([[2.0, 12.0]])
    gs, ts = standardize(g, t)
    assert torch.allclose(gs, torch.tensor([[-1.0, 0.0], [1.0, 0.0]]), atol=1e-3)  # a constant dim becomes 0
    assert ts[0, 0].abs() < 1e-3 and ts[0, 1] > 1e3  # scaled by the train std (eps only for the constant one)


def test_pixel_baseline_and_both_knn_protocols():
    x = torch.arange(2 * 3 * 4 * 4, dtype=torch.float32).reshape(2, 3, 4, 4)
    assert torch.equal(pixel_embed_fn()(x), x.reshape(2, 48))
    rng = np.random.default_rng(0)
    centers = rng.normal(size=(3, 8)) * 3
    labels = [i % 3 for i in range(60)]
    feats = torch.tensor(np.stack([centers[c] + rng.normal(size=8) for c in labels]), dtype=torch.float32)
    s = evaluate_features(feats[:45], labels[:45], feats[45:], labels[45:], probe=True)
    assert s["knn_top1"] > 0.9 and s["knn_bn_top1"] > 0.9 and s["linear_probe"] > 0.9


def test_hidden_states_end_in_the_forward_output_and_layers_are_scored():
    torch.manual_seed(0)
    vit = ViT(ViTConfig(image_size=8, patch_size=4, embed_dim=16, depth=2, num_heads=2)).eval()
    x = torch.randn(3, 3, 8, 8)
    states = vit.hidden_states(x)
    assert len(states) == 2 and states[0].shape == (3, 5, 16)
    assert torch.allclose(states[-1], vit(x), atol=1e-6)
    rng = np.random.default_rng(0)
    imgs = ImageSet([rng.integers(0, 255, (8, 8, 3), dtype=np.uint8) for _ in range(12)], [i % 2 for i in range(12)],
                    [str(i) for i in range(12)])
    rows = layer_scores(vit, imgs, imgs)
    assert [(r["layer"], r["pool"]) for r in rows] == [(1, "cls"), (1, "mean"), (2, "cls"), (2, "mean")]
    assert all(0 <= r["knn_top1"] <= 1 and "knn_bn_top1" in r for r in rows)
