import pytest
import torch

from edge_ssl.vision.patches import patchify, random_masking, unpatchify


def test_patchify_round_trip_and_layout():
    imgs = torch.randn(2, 3, 8, 12)
    x = patchify(imgs, 4)
    assert x.shape == (2, 6, 48)
    # patch 4 is row 1, column 1 of the 2x3 grid; flattened as (p, p, C)
    assert torch.equal(x[0, 4], imgs[0, :, 4:8, 4:8].permute(1, 2, 0).reshape(-1))
    assert torch.equal(unpatchify(x, 4, 3, grid=(2, 3)), imgs)
    sq = torch.randn(1, 1, 16, 16)
    assert torch.equal(unpatchify(patchify(sq, 4), 4, 1), sq)


def test_patchify_rejects_indivisible_size():
    with pytest.raises(ValueError, match="not divisible"):
        patchify(torch.zeros(1, 3, 10, 10), 4)


def test_random_masking_keeps_the_unmasked_tokens():
    torch.manual_seed(0)
    B, L, D = 3, 16, 5
    x = torch.randn(B, L, D)
    visible, mask, ids_restore = random_masking(x, 0.75)
    assert visible.shape == (B, 4, D)
    assert mask.shape == (B, L) and set(mask.unique().tolist()) == {0.0, 1.0}
    assert torch.equal(mask.sum(1), torch.full((B,), 12.0))  # 1 = removed
    for b in range(B):
        kept = x[b][mask[b] == 0]  # 0 = keep: exactly the visible tokens (as a set)
        assert torch.equal(kept[torch.argsort(kept[:, 0])], visible[b][torch.argsort(visible[b][:, 0])])
    # putting the visible tokens back (plus placeholders) and gathering with ids_restore restores order
    full = torch.cat([visible, torch.zeros(B, L - 4, D)], 1)
    restored = torch.gather(full, 1, ids_restore[..., None].expand(-1, -1, D))
    assert torch.equal(restored[mask == 0], x[mask == 0])
    assert torch.all(restored[mask == 1] == 0)


def test_random_masking_differs_per_sample_and_rejects_bad_ratio():
    torch.manual_seed(0)
    _, mask, _ = random_masking(torch.randn(8, 64, 2), 0.75)
    assert len({tuple(m.tolist()) for m in mask}) == 8
    with pytest.raises(ValueError, match="visible"):
        random_masking(torch.randn(1, 4, 2), 1.0)
