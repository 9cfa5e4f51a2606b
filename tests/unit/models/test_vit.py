import pytest
import torch

from edge_ssl.config import ConfigError, load_config
from edge_ssl.models.vit import ViT, ViTConfig, sincos_pos_embed, vit_base, vit_config


def small(**kw) -> ViT:
    return ViT(ViTConfig(image_size=16, patch_size=4, in_chans=3, embed_dim=32, depth=2, num_heads=4, **kw))


def test_shapes_and_pooling():
    torch.manual_seed(0)
    vit = small().eval()
    x = torch.randn(2, 3, 16, 16)
    tokens = vit(x)
    assert tokens.shape == (2, 17, 32)
    assert torch.allclose(vit.features(x), tokens[:, 1:].mean(1))
    cls = small(pool="cls").eval()
    cls.load_state_dict(vit.state_dict())
    assert torch.allclose(cls.features(x), tokens[:, 0])


def test_batch_one_export_path_matches_batched_path():
    """At batch 1 in eval the attention/LayerNorm take the export-friendly route; it must agree."""
    torch.manual_seed(0)
    vit = small().eval()
    x = torch.randn(3, 3, 16, 16)
    with torch.no_grad():
        batched = vit.features(x)
        single = torch.cat([vit.features(x[i:i + 1]) for i in range(3)])
    torch.testing.assert_close(single, batched, atol=1e-5, rtol=1e-5)


def test_sincos_positions():
    pe = sincos_pos_embed(16, 4)
    assert pe.shape == (1, 17, 16)
    assert torch.all(pe[0, 0] == 0)  # cls position
    assert len({tuple(r.tolist()) for r in pe[0, 1:]}) == 16  # every patch distinct
    # first half encodes the row: patches in the same row share it
    assert torch.equal(pe[0, 1, :8], pe[0, 4, :8]) and not torch.equal(pe[0, 1, 8:], pe[0, 4, 8:])


def test_size_builders_match_reference_sizes():
    assert vit_config("tiny").embed_dim == 192 and vit_config("small").num_heads == 6
    with torch.device("meta"):  # count without allocating
        n = sum(p.numel() for p in vit_base().parameters())
    assert n == 85_647_360  # timm vit_base_patch16_224, no head: 85,798,656 minus its learned pos_embed (197 x 768)


def test_wrong_image_size_and_bad_config():
    with pytest.raises(ValueError, match="16x16"):
        small()(torch.randn(1, 3, 20, 20))
    with pytest.raises(ConfigError, match="divisible"):
        load_config(ViTConfig, None, ["image_size=30", "patch_size=4"])
