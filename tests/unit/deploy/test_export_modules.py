"""The export-time swaps compute the same function as the layers they replace, and leave the model alone."""
import pytest
import torch

from edge_ssl.deploy.export_modules import (ExportLayerNorm, ExportSelfAttention, ExportTimeNorm, SWAPS,
                                            for_export)
from edge_ssl.models.norm import LayerNorm, TimeNorm
from edge_ssl.models.speech_encoder import SpeechEncoder, tiny, tiny_logmel
from edge_ssl.models.transformer import SelfAttention

G = torch.Generator().manual_seed(0)


def randn(*shape):
    return torch.randn(*shape, generator=G)


def swapped(module):
    out = for_export(module)
    assert type(out) is SWAPS[type(module)] and type(module) is not SWAPS[type(module)]
    return out


def with_random_affine(module):
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(randn(*p.shape))
    return module.eval()


@pytest.mark.parametrize("shape", [(2, 7, 16), (1, 5, 16), (3, 16)])
@pytest.mark.parametrize("affine", [True, False])
def test_layer_norm(shape, affine):
    ln = with_random_affine(LayerNorm(16, eps=1e-5, affine=affine))
    x = randn(*shape) * 3 + 1
    torch.testing.assert_close(swapped(ln)(x), ln(x), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("padded", [False, True])
def test_time_norm(padded):
    tn = with_random_affine(TimeNorm(8))
    x = randn(2, 8, 30) * 2 - 1                                            # (B, C, T)
    valid = (torch.arange(30)[None, None, :] < torch.tensor([30, 21])[:, None, None]).float() if padded else None
    torch.testing.assert_close(swapped(tn)(x, valid), tn(x, valid), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("batch,padded", [(1, False), (3, False), (3, True)])
def test_self_attention(batch, padded):
    attn = SelfAttention(32, 4, dropout=0.1).eval()
    x = randn(batch, 11, 32)
    bias = None
    if padded:  # the transformer's additive mask: large negative at padded keys
        pad = torch.arange(11)[None, :] >= torch.tensor([11, 6, 9])[:, None]
        bias = torch.zeros(pad.shape).masked_fill(pad, torch.finfo(torch.float32).min)[:, None, None, :]
    torch.testing.assert_close(swapped(attn)(x, bias), attn(x, bias), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("cfg", [tiny(), tiny_logmel(), tiny(extractor_mode="layer_norm", pos_conv_depth=3)],
                         ids=["conv", "logmel", "layer_norm"])
def test_whole_encoder_same_function_and_left_alone(cfg):
    torch.manual_seed(0)
    enc = SpeechEncoder(cfg).eval()
    before = {n: type(m) for n, m in enc.named_modules()}
    export = for_export(enc)
    assert {n: type(m) for n, m in enc.named_modules()} == before                # the model itself untouched
    kinds = {type(m) for m in export.modules()}
    assert not kinds & set(SWAPS) and kinds & {ExportLayerNorm, ExportSelfAttention}
    assert (ExportTimeNorm in kinds) == (cfg.extractor_mode == "group_norm")
    for p, q in zip(enc.parameters(), export.parameters()):
        assert torch.equal(p, q)
    wave = randn(1, 8000) * 0.1
    with torch.no_grad():
        torch.testing.assert_close(export(wave), enc(wave), atol=1e-5, rtol=1e-5)
