"""Import a local HF transformers folder: ``Wav2Vec2Model``, ``HubertModel``, ``Data2VecAudioModel`` and
their ``*ForCTC`` / ``*ForPreTraining`` variants.

``config.json`` is read as JSON against the defaults of the transformers config classes (older hub
configs omit newer fields), so transformers itself is not needed. Weights come from ``model.safetensors``
(also sharded) or ``pytorch_model.bin`` read with ``torch.load(weights_only=True)``. ``preprocessor_config.json``
(the ``Wav2Vec2FeatureExtractor``) says whether the model takes normalised input (``do_normalize``): that
becomes the model's own ``normalize``, with the feature extractor's epsilon.
"""
from __future__ import annotations

import dataclasses
import json
import logging
import re
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file

from edge_ssl.errors import EdgeSSLError
from edge_ssl.atomic import torch_load_weights
from edge_ssl.models.convert.imported import ImportedTeacher, ctc_vocab, rename
from edge_ssl.models.speech_encoder import EncoderConfig

log = logging.getLogger(__name__)

_CONV = dict(conv_dim=[512] * 7, conv_stride=[5, 2, 2, 2, 2, 2, 2], conv_kernel=[10, 3, 3, 3, 3, 2, 2])
_COMMON = dict(
    hidden_size=768, num_hidden_layers=12, num_attention_heads=12, intermediate_size=3072, hidden_act="gelu",
    hidden_dropout=0.1, activation_dropout=0.1, attention_dropout=0.1, feat_proj_dropout=0.0, layerdrop=0.1,
    layer_norm_eps=1e-5, feat_extract_activation="gelu", conv_bias=False, num_conv_pos_embedding_groups=16,
    add_adapter=False, adapter_attn_dim=None, pad_token_id=0, **_CONV)
# transformers' defaults per model_type: (family, base-model prefix in the state dict, defaults)
FAMILIES = {
    "wav2vec2": ("wav2vec2", "wav2vec2.", dict(
        _COMMON, feat_extract_norm="group", num_conv_pos_embeddings=128, do_stable_layer_norm=False)),
    "hubert": ("hubert", "hubert.", dict(
        _COMMON, feat_extract_norm="group", num_conv_pos_embeddings=128, do_stable_layer_norm=False,
        feat_proj_layer_norm=True, conv_pos_batch_norm=False)),
    "data2vec-audio": ("data2vec_audio", "data2vec_audio.", dict(
        _COMMON, conv_pos_kernel_size=19, num_conv_pos_embeddings=5)),
}
_ENCODER_ARCHS = ("Model", "ForPreTraining")

RULES = [
    (r"feature_extractor\.conv_layers\.(\d+)\.conv\.(weight|bias)", r"feature_extractor.conv_layers.\1.conv.\2"),
    (r"feature_extractor\.conv_layers\.(\d+)\.layer_norm\.(weight|bias)", r"feature_extractor.conv_layers.\1.norm.\2"),
    (r"feature_projection\.layer_norm\.(weight|bias)", r"feature_projection.layer_norm.\1"),
    (r"feature_projection\.projection\.(weight|bias)", r"feature_projection.proj.\1"),
    (r"masked_spec_embed", r"mask_emb"),
    # weight norm: old nn.utils.weight_norm names, and torch.nn.utils.parametrizations names
    (r"encoder\.pos_conv_embed\.conv\.(weight_g|parametrizations\.weight\.original0)",
     r"encoder.pos_conv.conv.parametrizations.weight.original0"),
    (r"encoder\.pos_conv_embed\.conv\.(weight_v|parametrizations\.weight\.original1)",
     r"encoder.pos_conv.conv.parametrizations.weight.original1"),
    (r"encoder\.pos_conv_embed\.conv\.bias", r"encoder.pos_conv.conv.bias"),
    (r"encoder\.pos_conv_embed\.layers\.(\d+)\.conv\.(weight|bias)", r"encoder.pos_conv.convs.\1.\2"),  # data2vec
    (r"encoder\.layer_norm\.(weight|bias)", r"encoder.layer_norm.\1"),
    (r"encoder\.layers\.(\d+)\.attention\.(q|k|v|out)_proj\.(weight|bias)", r"encoder.layers.\1.attn.\2_proj.\3"),
    (r"encoder\.layers\.(\d+)\.layer_norm\.(weight|bias)", r"encoder.layers.\1.attn_norm.\2"),
    (r"encoder\.layers\.(\d+)\.feed_forward\.intermediate_dense\.(weight|bias)", r"encoder.layers.\1.ffn.fc1.\2"),
    (r"encoder\.layers\.(\d+)\.feed_forward\.output_dense\.(weight|bias)", r"encoder.layers.\1.ffn.fc2.\2"),
    (r"encoder\.layers\.(\d+)\.final_layer_norm\.(weight|bias)", r"encoder.layers.\1.ffn_norm.\2"),
]
# *ForPreTraining heads (quantizer and projections for the contrastive loss), unused by an encoder
IGNORE = [r"quantizer\..*", r"project_q\..*", r"project_hid\..*"]


def read_config(folder: Path) -> dict[str, Any]:
    path = folder / "config.json"
    if not path.is_file():
        raise EdgeSSLError(f"{folder}: no config.json; expected a HF transformers model folder")
    try:
        cfg = json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise EdgeSSLError(f"{path}: not valid JSON ({e})") from None
    model_type = cfg.get("model_type")
    if model_type not in FAMILIES:
        raise EdgeSSLError(f"{path}: model_type {model_type!r} is not supported; "
                           f"expected one of {', '.join(FAMILIES)}")
    return {**FAMILIES[model_type][2], **cfg}


HF_NORMALIZE_EPS = 1e-7  # transformers' Wav2Vec2FeatureExtractor.zero_mean_unit_var_norm: (x - mean) / sqrt(var + 1e-7)


def read_preprocessor(folder: Path) -> dict[str, Any]:
    """``preprocessor_config.json`` -> the EncoderConfig fields it implies ({} for the raw wave)."""
    path = folder / "preprocessor_config.json"
    if not path.is_file():  # transformers cannot build the model's feature extractor either
        log.warning("%s: no preprocessor_config.json; importing for the raw wave (do_normalize false)", folder)
        return {}
    try:
        pre = json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise EdgeSSLError(f"{path}: not valid JSON ({e})") from None
    if not isinstance(pre, dict):
        raise EdgeSSLError(f"{path}: expected a JSON object (a Wav2Vec2FeatureExtractor config)")
    if pre.get("sampling_rate", 16000) != 16000:
        raise EdgeSSLError(f"{path}: sampling_rate {pre['sampling_rate']!r} is not supported (edge-ssl models "
                           "take 16 kHz audio)")
    do_normalize = pre.get("do_normalize", True)  # Wav2Vec2FeatureExtractor's default
    if not isinstance(do_normalize, bool):
        raise EdgeSSLError(f"{path}: do_normalize must be true or false, got {do_normalize!r}")
    return {"normalize": True, "normalize_eps": HF_NORMALIZE_EPS} if do_normalize else {}


def read_weights(folder: Path) -> dict[str, torch.Tensor]:
    """``model.safetensors`` (or its sharded index), else ``pytorch_model.bin`` without unpickling code."""
    single, index, bin_ = folder / "model.safetensors", folder / "model.safetensors.index.json", folder / "pytorch_model.bin"
    try:
        if single.is_file():
            return load_file(str(single))
        if index.is_file():
            shards = sorted(set(json.loads(index.read_text())["weight_map"].values()))
            return {k: v for s in shards for k, v in load_file(str(folder / s)).items()}
        if bin_.is_file():
            state = torch_load_weights(bin_)  # refuses a pickle that names code, in one line
            if not isinstance(state, dict):
                raise EdgeSSLError(f"{bin_}: expected a state dict, got {type(state).__name__}")
            return state
    except (SafetensorError, OSError, KeyError, ValueError, RuntimeError) as e:
        raise EdgeSSLError(f"{folder}: cannot read weights ({type(e).__name__}: {e})") from None
    raise EdgeSSLError(f"{folder}: no model.safetensors or pytorch_model.bin")


def encoder_config(cfg: dict[str, Any], source: str) -> EncoderConfig:
    """Every config field that changes the forward pass, mapped; what edge-ssl cannot represent is refused."""
    family = FAMILIES[cfg["model_type"]][0]

    def refuse(field: str, why: str) -> None:
        raise EdgeSSLError(f"{source}: config field {field}={cfg.get(field)!r} is not supported ({why})")

    for field in ("hidden_act", "feat_extract_activation"):
        if cfg[field] != "gelu":
            refuse(field, "edge-ssl uses exact GELU everywhere")
    if cfg["add_adapter"]:
        refuse("add_adapter", "no adapter layers after the encoder")
    if cfg["adapter_attn_dim"] is not None:
        refuse("adapter_attn_dim", "no attention adapters")
    if cfg.get("conv_pos_batch_norm"):
        refuse("conv_pos_batch_norm", "no BatchNorm before the positional conv")
    if not len(cfg["conv_dim"]) == len(cfg["conv_kernel"]) == len(cfg["conv_stride"]):
        refuse("conv_dim", "conv_dim, conv_kernel and conv_stride differ in length")
    if family == "data2vec_audio":
        if cfg["layer_norm_eps"] != 1e-5:  # its positional-conv LayerNorms use 1e-5 whatever the config says
            refuse("layer_norm_eps", "data2vec's positional conv norms would need a second epsilon")
        mode, pre_ln = "layer_norm", False
        pos = dict(pos_conv_kernel=cfg["conv_pos_kernel_size"], pos_conv_depth=cfg["num_conv_pos_embeddings"])
    else:
        if cfg["feat_extract_norm"] not in ("group", "layer"):
            refuse("feat_extract_norm", "expected 'group' or 'layer'")
        mode = "group_norm" if cfg["feat_extract_norm"] == "group" else "layer_norm"
        pre_ln = bool(cfg["do_stable_layer_norm"])
        pos = dict(pos_conv_kernel=cfg["num_conv_pos_embeddings"], pos_conv_depth=1)
    enc = EncoderConfig(
        conv_layers=[tuple(x) for x in zip(cfg["conv_dim"], cfg["conv_kernel"], cfg["conv_stride"])],
        extractor_mode=mode, conv_bias=bool(cfg["conv_bias"]), embed_dim=cfg["hidden_size"],
        num_layers=cfg["num_hidden_layers"], num_heads=cfg["num_attention_heads"], ffn_dim=cfg["intermediate_size"],
        layer_norm_first=pre_ln, pos_conv_groups=cfg["num_conv_pos_embedding_groups"], **pos,
        dropout=float(cfg["hidden_dropout"]), attention_dropout=float(cfg["attention_dropout"]),
        activation_dropout=float(cfg["activation_dropout"]), feature_dropout=float(cfg["feat_proj_dropout"]),
        layerdrop=float(cfg["layerdrop"]), layer_norm_eps=float(cfg["layer_norm_eps"]),
        feature_projection_norm=bool(cfg.get("feat_proj_layer_norm", True)))
    try:
        enc.validate()
    except ValueError as e:
        raise EdgeSSLError(f"{source}: {e}") from None
    return enc


def read_vocab(folder: Path, cfg: dict[str, Any], size: int) -> tuple[list[str], list[int]]:
    """``vocab.json`` (Wav2Vec2CTCTokenizer) -> edge tokens and row order. HF's CTC blank is ``pad_token_id``."""
    path = folder / "vocab.json"
    if not path.is_file():
        raise EdgeSSLError(f"{folder}: a *ForCTC model needs its vocab.json (the tokenizer files) beside config.json")
    vocab = json.loads(path.read_text())
    if not vocab or not all(isinstance(v, int) for v in vocab.values()):
        raise EdgeSSLError(f"{path}: expected a flat {{token: id}} mapping (multi-lingual vocabularies are not supported)")
    added = folder / "added_tokens.json"
    if added.is_file():
        vocab.update(json.loads(added.read_text()))
    tokens = [None] * size
    for tok, i in vocab.items():
        if 0 <= i < size:
            tokens[i] = tok
    if None in tokens or len(vocab) != size:
        raise EdgeSSLError(f"{path}: {len(vocab)} tokens for a CTC head of {size} outputs (ids must be 0..{size - 1})")
    delimiter = "|"
    tok_cfg = folder / "tokenizer_config.json"
    if tok_cfg.is_file():
        delimiter = json.loads(tok_cfg.read_text()).get("word_delimiter_token") or delimiter
    return ctc_vocab(tokens, int(cfg["pad_token_id"]), delimiter, str(path))


def import_hf(folder: str | Path, encoder_only: bool = False) -> ImportedTeacher:
    folder = Path(folder)
    source = str(folder)
    cfg = read_config(folder)
    family, prefix, _ = FAMILIES[cfg["model_type"]]
    arch = (cfg.get("architectures") or [""])[0]
    enc = dataclasses.replace(encoder_config(cfg, source), **read_preprocessor(folder))
    weights = read_weights(folder)
    # Base-model weights carry the prefix when saved from a model with a head (ForCTC, ForPreTraining).
    if any(k.startswith(prefix) for k in weights):
        base = {k[len(prefix):]: v for k, v in weights.items() if k.startswith(prefix)}
        heads = {k: v for k, v in weights.items() if not k.startswith(prefix)}
    else:
        base, heads = weights, {}
    is_ctc = arch.endswith("ForCTC") or (not arch and "lm_head.weight" in heads)
    if not encoder_only:
        unsupported = sorted(k for k in heads if not k.startswith("lm_head.") and not any(re.fullmatch(p, k) for p in IGNORE))
        if (arch and not is_ctc and not arch.endswith(_ENCODER_ARCHS)) or unsupported:
            raise EdgeSSLError(f"{folder}: {arch or 'the model'} has a head that is not a CTC layer "
                               f"({', '.join(unsupported[:4]) or arch}); use --encoder-only to import just the encoder")
    state = rename(base, RULES, IGNORE, source)
    if "mask_emb" not in state:  # only saved when the config enables SpecAugment; inference never uses it
        state["mask_emb"] = torch.empty(enc.embed_dim).uniform_()
    t = ImportedTeacher(enc, state, source, family)
    if is_ctc and not encoder_only:
        if "lm_head.weight" not in heads:
            raise EdgeSSLError(f"{folder}: architecture {arch} but no lm_head.weight in the weights")
        w, b = heads["lm_head.weight"], heads["lm_head.bias"]  # (V, C), (V,)
        t.vocab, t.head_order = read_vocab(folder, cfg, w.shape[0])
        t.head_weight, t.head_bias = w[t.head_order].contiguous(), b[t.head_order].contiguous()
    log.info("%s: %s %s, %d layers x %d, %s%s", folder, family, t.kind, enc.num_layers, enc.embed_dim,
             "pre-LN" if enc.layer_norm_first else "post-LN", ", normalised input" if enc.normalize else "")
    return t
