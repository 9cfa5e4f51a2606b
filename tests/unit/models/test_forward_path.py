"""SpeechEncoder is the only forward path: outside ``edge_ssl/models`` no code reaches into its parts
(feature extractor, feature projection, mask_emb, the transformer and its layers); callers use its stages
(``features``, ``normalize_features``, ``project``, ``embed``, ``contextualise``, ``extract_features``).
Module paths as strings (the quantizer's fp32 policy names the front-end's modules) are names, not access."""
import ast
from pathlib import Path

import torch

from edge_ssl.models.speech_encoder import SpeechEncoder, tiny

ROOT = Path(__file__).resolve().parents[3]
PARTS = {"feature_extractor", "feature_projection", "mask_emb", "pos_conv"}
SOURCES = ("edge_ssl", "apps", "bench", "recipes", "export")


def reach_ins(source: str) -> list[int]:
    """Lines that access an encoder part as an attribute (``x.mask_emb``, ``model.encoder.encoder``)."""
    lines = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Attribute):
            continue
        inner = isinstance(node.value, ast.Attribute) and node.value.attr == "encoder"
        if node.attr in PARTS or (inner and node.attr in ("encoder", "layers")):
            lines.append(node.lineno)
    return lines


def test_no_module_outside_models_touches_the_encoders_internals():
    offenders = []
    for folder in SOURCES:
        for path in sorted((ROOT / folder).rglob("*.py")):
            if path.is_relative_to(ROOT / "edge_ssl" / "models"):
                continue
            text = path.read_text()
            offenders += [f"{path.relative_to(ROOT)}:{i}: {text.splitlines()[i - 1].strip()}" for i in reach_ins(text)]
    assert not offenders, "use SpeechEncoder's stages instead:\n" + "\n".join(offenders)


def test_the_rule_sees_a_reach_in():
    assert reach_ins("x = model.encoder.encoder.layers[0](x)") == [1, 1]
    assert reach_ins("\nenc.mask_emb.requires_grad_(False)") == [2]
    assert reach_ins("enc.contextualise(enc.embed(x))\nFRONT = 'model.encoder.feature_extractor'") == []


def test_stages_compose_to_extract_features():
    torch.manual_seed(0)
    enc = SpeechEncoder(tiny()).train()
    wave, lengths = torch.randn(2, 6000), torch.tensor([6000, 4500])
    T = enc.num_frames(6000)
    mask = torch.zeros(2, T, dtype=torch.bool)
    mask[:, 3:7] = True
    torch.manual_seed(1)
    out = enc.extract_features(wave, lengths, frame_mask=mask)
    torch.manual_seed(1)  # the same dropout draws, in the same order
    conv = enc.features(wave, lengths)
    pad = enc.padding_mask(lengths, conv.shape[1])
    hidden, _ = enc.contextualise(enc.embed(enc.project(enc.normalize_features(conv)), mask), pad)
    assert conv.shape[1] == T
    for a, b in zip(out.hidden_states, hidden):
        assert torch.equal(a, b)


def test_grad_mult_scales_only_the_conv_gradient():
    torch.manual_seed(0)
    wave = torch.randn(1, 4000)
    grads = []
    for mult in (1.0, 0.1, 0.0):
        torch.manual_seed(0)
        enc = SpeechEncoder(tiny(dropout=0.0, feature_dropout=0.0, attention_dropout=0.0)).train()
        enc.extract_features(wave, grad_mult=mult).last_hidden_state.sum().backward()
        conv_w = enc.feature_extractor.conv_layers[0].conv.weight.grad
        grads.append((conv_w, enc.encoder.layers[0].ffn.fc1.weight.grad))
    torch.testing.assert_close(grads[1][0], 0.1 * grads[0][0])
    assert grads[2][0] is None or not grads[2][0].any()
    torch.testing.assert_close(grads[1][1], grads[0][1])


def test_freeze_names_its_parts():
    enc = SpeechEncoder(tiny())
    enc.freeze("feature_extractor", "mask_emb")
    assert not enc.mask_emb.requires_grad and not any(p.requires_grad for p in enc.feature_extractor.parameters())
    try:
        enc.freeze("encoder")
    except ValueError as e:
        assert "feature_extractor" in str(e)
    else:
        raise AssertionError("freeze accepted an unknown part")
