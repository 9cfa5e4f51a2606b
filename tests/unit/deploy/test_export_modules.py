"""The export-time swaps compute the same function as the layers they replace, and leave the model alone."""
import pytest
import torch

from edge_ssl.deploy.export_modules import (SWAPS, XNNPACK_SWAPS, ChannelNorm4d, ExportLayerNorm,
                                            ExportSelfAttention, ExportTimeNorm, for_export)
from edge_ssl.models.conv_extractor import ConvFeatureExtractor
from edge_ssl.models.norm import LayerNorm, TimeNorm
from edge_ssl.models.speech_encoder import SpeechEncoder, tiny, tiny_logmel
from edge_ssl.models.transformer import SelfAttention

G = torch.Generator().manual_seed(0)


def randn(*shape):
    return torch.randn(*shape, generator=G)


def swapped(module):
    out = for_export(module)
    form = {**SWAPS, **XNNPACK_SWAPS}[type(module)]
    assert type(out) is form and type(module) is not form
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
    assert not kinds & (set(SWAPS) | set(XNNPACK_SWAPS)) and kinds & {ExportLayerNorm, ExportSelfAttention}
    time_norm = ChannelNorm4d if cfg.frontend == "conv" else ExportTimeNorm   # the 4-D front-end's own form
    assert (time_norm in kinds) == (cfg.extractor_mode == "group_norm")
    for p, q in zip(enc.parameters(), export.parameters()):
        assert torch.equal(p.flatten(), q.flatten())                             # the 4-D front-end: same values
    wave = randn(1, 8000) * 0.1
    with torch.no_grad():
        torch.testing.assert_close(export(wave), enc(wave), atol=1e-5, rtol=1e-5)


CONV = [(8, 10, 5), (8, 3, 2), (8, 2, 2)]


@pytest.mark.parametrize("mode,padding,eps", [("group_norm", False, None), ("group_norm", True, 1e-5),
                                              ("none", True, None), ("none", False, None)])
@pytest.mark.parametrize("bias", [False, True])
def test_conv_extractor_4d(mode, padding, eps, bias):
    fe = with_random_affine(ConvFeatureExtractor(CONV, mode=mode, bias=bias, padding=padding, normalize_eps=eps))
    export = swapped(fe)
    assert export.as_4d and all(type(b.conv) is torch.nn.Conv2d for b in export.conv_layers)
    assert all(type(b.conv) is torch.nn.Conv1d for b in fe.conv_layers)             # the model itself untouched
    wave = randn(2, 1000) * 0.3 + 0.05                                               # (B, S)
    with torch.no_grad():
        torch.testing.assert_close(export(wave), fe(wave), atol=1e-5, rtol=1e-5)
    with pytest.raises(ValueError, match="unpadded"):
        export(wave, torch.tensor([1000, 800]))


@pytest.mark.parametrize("kw", [dict(mode="layer_norm"), dict(frontend="logmel", n_mels=16)], ids=["layer_norm", "logmel"])
def test_conv_extractor_other_forms_unchanged(kw):
    fe = with_random_affine(ConvFeatureExtractor([(8, 3, 2), (8, 2, 2)] if "frontend" in kw else CONV, **kw))
    export = swapped(fe)
    assert not export.as_4d and all(type(b.conv) is torch.nn.Conv1d for b in export.conv_layers)
    wave, lengths = randn(2, 4000) * 0.3, torch.tensor([4000, 3000])
    with torch.no_grad():
        torch.testing.assert_close(export(wave, lengths), fe(wave, lengths), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("pool", ["mean", "cls"])
def test_vit_cls_broadcast(pool):
    from edge_ssl.models.vit import ViT, vit_config

    torch.manual_seed(0)
    vit = ViT(vit_config("tiny", image_size=16, patch_size=4, pool=pool)).eval()
    images = randn(3, 3, 16, 16)
    export = swapped(vit)
    with torch.no_grad():
        torch.testing.assert_close(export.features(images), vit.features(images), atol=1e-5, rtol=1e-5)
        for a, b in zip(export.hidden_states(images), vit.hidden_states(images)):
            torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)


def test_the_conv_front_end_swap_is_for_xnnpack_only():
    from edge_ssl.deploy.export_modules import ExportConvFeatureExtractor
    from edge_ssl.models.conv_extractor import ConvFeatureExtractor

    enc = SpeechEncoder(tiny()).eval()
    assert type(for_export(enc).feature_extractor) is ExportConvFeatureExtractor
    onnx = for_export(enc, "onnx")
    assert type(onnx.feature_extractor) is ConvFeatureExtractor
    assert any(type(m) is ExportLayerNorm for m in onnx.modules())  # the other swaps apply to both
    with pytest.raises(ValueError, match="xnnpack or onnx"):
        for_export(enc, "tflite")
