"""SimCLR: NT-Xent against an explicit-loop reference, the two-view data, the model's contract, and a tiny
run on the digits that learns (seconds)."""
import json
import math

import numpy as np
import pytest
import torch

from edge_ssl.methods.simclr import SimCLR, SimCLRConfig
from edge_ssl.models.vit import ViTConfig
from edge_ssl.objectives.simclr import nt_xent
from edge_ssl.vision.builtin import ImageSet, find_digits_sheet
from edge_ssl.vision.dataset import ImageDataset, collate_images
from edge_ssl.vision.images import color_distort

try:
    find_digits_sheet()
    HAVE_DIGITS = True
except Exception:
    HAVE_DIGITS = False


def reference_nt_xent(z1, z2, tau):
    """Eq. 1 of Chen et al. 2020 written out: views 2k and 2k+1 are the pair; l(i, j) summed over both
    orders of every pair, divided by 2N."""
    views = []
    for a, b in zip(z1.tolist(), z2.tolist()):
        views += [a, b]
    def cos(u, v):
        return sum(x * y for x, y in zip(u, v)) / math.sqrt(sum(x * x for x in u) * sum(y * y for y in v))
    def ell(i, j):
        num = math.exp(cos(views[i], views[j]) / tau)
        den = sum(math.exp(cos(views[i], views[k]) / tau) for k in range(len(views)) if k != i)
        return -math.log(num / den)
    n = len(z1)
    return sum(ell(2 * k, 2 * k + 1) + ell(2 * k + 1, 2 * k) for k in range(n)) / (2 * n)


@pytest.mark.parametrize("tau", [0.1, 0.5, 1.0])
def test_nt_xent_matches_the_papers_formula(tau):
    g = torch.Generator().manual_seed(0)
    z1, z2 = torch.randn(5, 7, generator=g), torch.randn(5, 7, generator=g)
    loss, _ = nt_xent(z1, z2, tau)
    assert loss.item() == pytest.approx(reference_nt_xent(z1.double(), z2.double(), tau), rel=1e-5)


def test_nt_xent_is_low_and_accurate_for_matching_views_and_checks_shapes():
    z = torch.eye(4) * 3.0
    loss, acc = nt_xent(z, z + 0.01, 0.1)  # each view's pair is its nearest: loss ~ 0, accuracy 1
    assert acc.item() == 1.0 and loss.item() < 1e-3
    _, acc = nt_xent(z, z.roll(1, dims=0), 0.1)  # every pair mismatched
    assert acc.item() == 0.0
    with pytest.raises(ValueError, match="equal shape"):
        nt_xent(torch.zeros(4, 3), torch.zeros(3, 3), 0.1)


def test_two_views_are_seeded_differ_and_keep_the_single_view_crop():
    rng = np.random.default_rng(0)
    images = ImageSet([rng.integers(0, 255, (20, 20, 3), dtype=np.uint8) for _ in range(3)], [0, 1, 0],
                      [str(i) for i in range(3)])
    one = ImageDataset(images, 16, train=True, min_scale=0.3, seed=2)
    two = ImageDataset(images, 16, train=True, min_scale=0.3, seed=2, views=2, color=0.5, grayscale=0.2)
    v = two[1]["image"]
    assert v.shape == (2, 3, 16, 16)
    assert torch.equal(v, two[1]["image"])  # seeded
    assert not torch.equal(v[0], v[1])  # two different views of one image
    assert torch.equal(ImageDataset(images, 16, train=True, min_scale=0.3, seed=2, views=2)[1]["image"][0], one[1]["image"])
    assert collate_images([two[0], two[1]])["images"].shape == (2, 2, 3, 16, 16)


def test_color_distort_stays_in_range_and_changes_the_image():
    x = torch.rand(3, 8, 8)
    outs = [color_distort(x, 1.0, 0.5, torch.Generator().manual_seed(s)) for s in range(20)]
    assert all(o.shape == x.shape and o.min() >= 0 and o.max() <= 1 for o in outs)
    assert any(not torch.allclose(o, x) for o in outs)
    assert any(torch.equal(o[0], o[1]) and torch.equal(o[1], o[2]) for o in outs)  # some grayscale views
    assert torch.equal(color_distort(x, 0.0, 0.0, torch.Generator()), x)


def test_model_needs_two_views_and_freezes_the_patch_projection_on_request():
    enc = ViTConfig(image_size=8, patch_size=4, embed_dim=16, depth=1, num_heads=2)
    model = SimCLR(SimCLRConfig(encoder=enc, proj_hidden=32, proj_dim=8, temperature=0.2))
    loss, logs = model({"images": torch.randn(4, 2, 3, 8, 8)})
    assert loss.ndim == 0 and 0.0 <= logs["pair_acc"] <= 1.0
    with pytest.raises(ValueError, match="data.views=2"):
        model({"images": torch.randn(4, 3, 8, 8)})
    frozen = SimCLR(SimCLRConfig(encoder=enc, proj_hidden=32, proj_dim=8, freeze_patch_embed=True))
    trained = {id(p) for g in frozen.param_groups() for p in g["params"]}
    assert all(id(p) not in trained for p in frozen.encoder.patch_embed.parameters())


@pytest.mark.skipif(not HAVE_DIGITS, reason="opencv-doc digits.png not installed")
def test_tiny_run_learns(tmp_path):
    """60 updates of a 1-layer ViT on the training digits: the loss falls and the held-out k-NN is far above
    chance (10%) and above the same encoder before training."""
    from edge_ssl.recipes import pretrain_simclr
    from edge_ssl.recipes.runner import run_recipe
    from edge_ssl.vision.evaluate import evaluate_digits

    torch.manual_seed(1)
    tiny = ["data.image_size=12", "model.encoder.image_size=12", "model.encoder.patch_size=4",
            "model.encoder.embed_dim=32", "model.encoder.depth=1", "model.encoder.num_heads=2",
            "model.proj_hidden=64", "model.proj_dim=32", "data.batch_size=64", "train.max_steps=60",
            "train.log_every=5", "train.save_every=1000", "train.device=cpu", "blr=8e-3",
            "data.min_scale=0.3"]  # pinned: at 12 px and 60 steps, simclr/tiny's 0.5 gives 69.8% vs 67.9% untrained
    out = run_recipe(pretrain_simclr.Config, pretrain_simclr.train, "simclr/tiny", [f"out_dir={tmp_path}", *tiny])
    rows = [json.loads(ln) for ln in (out / "metrics.jsonl").read_text().splitlines()]
    first, last = np.mean([r["loss"] for r in rows[:2]]), np.mean([r["loss"] for r in rows[-2:]])
    assert last < first - 0.15, (first, last)  # measured: 4.68 -> 4.40
    knn = json.loads((out / "knn.json").read_text())["knn_top1"]
    from edge_ssl.vision.model_io import load_vision_model

    vit, _, _ = load_vision_model(out / "encoder.safetensors")
    torch.manual_seed(0)
    untrained = evaluate_digits(type(vit)(vit.cfg), probe=False)["knn_top1"]
    assert knn > 0.5 and knn > untrained + 0.02, (knn, untrained)  # measured: 72.3% vs 67.9%


def test_base_config_keeps_the_papers_numbers():
    from edge_ssl.config import load_config
    from edge_ssl.recipes import pretrain_simclr
    from edge_ssl.recipes.runner import CONFIG_ROOT

    c = load_config(pretrain_simclr.Config, CONFIG_ROOT / "simclr" / "base.yaml")
    c.validate()
    assert (c.model.temperature, c.model.proj_hidden, c.model.proj_dim) == (0.1, 2048, 128)  # SimCLR
    assert (c.data.min_scale, c.data.color, c.data.grayscale, c.data.hflip) == (0.08, 1.0, 0.2, True)  # SimCLR views
    assert (c.blr, c.optim.weight_decay, c.model.freeze_patch_embed) == (1.5e-4, 0.1, True)  # MoCo v3 ViT
    assert (c.model.encoder.embed_dim, c.model.encoder.depth, c.model.encoder.patch_size) == (768, 12, 16)
