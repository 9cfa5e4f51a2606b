"""Shared by the import tests: random transformers models saved to disk, and the comparison against them."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

transformers = pytest.importorskip("transformers")  # the reference implementation (dev extra)

TOL = 1e-4
# Narrow and shallow for speed, but the standard strides and kernels (downsample 320, receptive field 400).
SMALL = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64, conv_dim=(16,) * 7,
             num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=4)
# A CTC vocabulary as Wav2Vec2CTCTokenizer writes it (facebook/wav2vec2-base-960h's layout).
VOCAB = ["<pad>", "<s>", "</s>", "<unk>", "|", *"ETAONIHSRDLUMWCFGYPBVK'XJQZ"]

CLASSES = {
    "wav2vec2": (transformers.Wav2Vec2Config, transformers.Wav2Vec2Model, transformers.Wav2Vec2ForCTC),
    "hubert": (transformers.HubertConfig, transformers.HubertModel, transformers.HubertForCTC),
    "data2vec-audio": (transformers.Data2VecAudioConfig, transformers.Data2VecAudioModel,
                       transformers.Data2VecAudioForCTC),
}


def random_model(model_type: str, ctc: bool = False, seed: int = 0, **overrides) -> torch.nn.Module:
    """A transformers model with every parameter perturbed (so LayerNorm gains, biases... all matter)."""
    torch.manual_seed(seed)
    cfg_cls, base_cls, ctc_cls = CLASSES[model_type]
    kw = {**SMALL, **overrides}
    if model_type == "data2vec-audio":
        kw.setdefault("conv_pos_kernel_size", 5)
        kw["num_conv_pos_embeddings"] = overrides.get("num_conv_pos_embeddings", 3)
    if ctc:
        kw.setdefault("vocab_size", len(VOCAB))
    model = (ctc_cls if ctc else base_cls)(cfg_cls(**kw)).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.1)
    return model


def save_folder(model: torch.nn.Module, folder: Path, fmt: str = "safetensors", legacy_names: bool = False,
                vocab: list[str] | None = None) -> Path:
    """``save_pretrained`` (``fmt="sharded"``: several safetensors files and an index); ``fmt="bin"`` rewrites the weights as ``pytorch_model.bin`` (what transformers 4
    wrote), with ``legacy_names`` as ``weight_g``/``weight_v`` (nn.utils.weight_norm, before parametrizations)."""
    model.save_pretrained(folder, **({"max_shard_size": "40KB"} if fmt == "sharded" else {}))
    if fmt == "bin":
        state = model.state_dict()
        if legacy_names:
            state = {k.replace("parametrizations.weight.original0", "weight_g")
                      .replace("parametrizations.weight.original1", "weight_v"): v for k, v in state.items()}
        (folder / "model.safetensors").unlink()
        torch.save(state, folder / "pytorch_model.bin")
    if vocab is not None:
        (folder / "vocab.json").write_text(json.dumps({t: i for i, t in enumerate(vocab)}))
    return folder


def reference(model: torch.nn.Module, wave: torch.Tensor, attention_mask: torch.Tensor | None = None):
    """(hidden states, logits or None). The last hidden state is the encoder output (after the final LayerNorm
    for stable-layer-norm models): transformers 4 returned that as hidden_states[-1]; transformers 5 returns the
    last layer's output there and keeps the normed one as last_hidden_state."""
    ctc = hasattr(model, "lm_head")
    base = getattr(model, model.base_model_prefix) if ctc else model
    with torch.no_grad():
        out = base(wave, attention_mask=attention_mask, output_hidden_states=True)
        logits = model(wave, attention_mask=attention_mask).logits if ctc else None
    hidden, last = list(out.hidden_states), out.last_hidden_state
    if not getattr(model.config, "do_stable_layer_norm", False):
        assert torch.equal(hidden[-1], last)  # post-LN: both conventions agree
    hidden[-1] = last
    return hidden, logits


def max_diffs(ref: list[torch.Tensor], got: list[torch.Tensor]) -> list[float]:
    assert len(ref) == len(got), (len(ref), len(got))
    return [float((a - b).abs().max()) for a, b in zip(ref, got)]
