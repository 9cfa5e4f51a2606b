"""Import a fairseq checkpoint (``.pt``): wav2vec 2.0, HuBERT, data2vec audio, and their CTC fine-tunes.

The file is unpickled by ``safe_unpickle`` (stand-ins for argparse/omegaconf/fairseq; nothing from the
file runs). The model config is ``cfg["model"]`` (fairseq >= 0.10: a DictConfig or, newer, a plain dict)
or the flat ``args`` Namespace (older); a CTC fine-tune nests the pretraining config in ``w2v_args``.
Names follow fairseq's modules (``feature_extractor.conv_layers.{i}.0`` is the conv, ``.2`` its norm...),
the same mapping HF's ``convert_*_original_pytorch_checkpoint_to_pytorch.py`` scripts use. The task's
``normalize`` (per-utterance normalised input, data2vec and LV-60 models) becomes the model's own ``normalize``.
"""
from __future__ import annotations

import ast
import dataclasses
import logging
from pathlib import Path
from typing import Any

import torch

from edge_ssl.errors import EdgeSSLError
from edge_ssl.models.convert.imported import ImportedTeacher, ctc_vocab, rename
from edge_ssl.models.convert.safe_unpickle import load_checkpoint, to_python
from edge_ssl.models.speech_encoder import EncoderConfig

log = logging.getLogger(__name__)

# fairseq's dataclass defaults (Wav2Vec2Config; HuBERT and data2vec share these field names)
DEFAULTS = dict(
    extractor_mode="default", conv_feature_layers="[(512, 10, 5)] + [(512, 3, 2)] * 4 + [(512,2,2)] * 2",
    conv_bias=False, encoder_layers=12, encoder_embed_dim=768, encoder_ffn_embed_dim=3072,
    encoder_attention_heads=12, activation_fn="gelu", layer_type="transformer", layer_norm_first=False,
    conv_pos=128, conv_pos_groups=16, pos_conv_depth=1, dropout=0.1, attention_dropout=0.1,
    activation_dropout=0.0, dropout_input=0.0, encoder_layerdrop=0.0)
FAMILIES = ("wav2vec2", "hubert", "data2vec_audio")  # fairseq model names (cfg.model._name / args.arch)
CTC_ARCHS = ("wav2vec_ctc", "hubert_ctc")  # fine-tunes; the pretrained model's config is in w2v_args

RULES = [
    (r"feature_extractor\.conv_layers\.(\d+)\.0\.(weight|bias)", r"feature_extractor.conv_layers.\1.conv.\2"),
    # group-norm mode: (conv, dropout, GroupNorm, GELU); layer-norm mode: (conv, dropout, (T, LayerNorm, T), GELU)
    (r"feature_extractor\.conv_layers\.(\d+)\.2\.(?:1\.)?(weight|bias)", r"feature_extractor.conv_layers.\1.norm.\2"),
    (r"layer_norm\.(weight|bias)", r"feature_projection.layer_norm.\1"),
    (r"post_extract_proj\.(weight|bias)", r"feature_projection.proj.\1"),
    (r"mask_emb", r"mask_emb"),
    (r"encoder\.pos_conv\.0\.(weight_g|parametrizations\.weight\.original0)",
     r"encoder.pos_conv.conv.parametrizations.weight.original0"),
    (r"encoder\.pos_conv\.0\.(weight_v|parametrizations\.weight\.original1)",
     r"encoder.pos_conv.conv.parametrizations.weight.original1"),
    (r"encoder\.pos_conv\.0\.bias", r"encoder.pos_conv.conv.bias"),
    (r"encoder\.pos_conv\.(\d+)\.0\.(weight|bias)", r"encoder.pos_conv.convs.\1.\2"),  # data2vec's conv stack
    (r"encoder\.layer_norm\.(weight|bias)", r"encoder.layer_norm.\1"),
    (r"encoder\.layers\.(\d+)\.self_attn\.(q|k|v|out)_proj\.(weight|bias)", r"encoder.layers.\1.attn.\2_proj.\3"),
    (r"encoder\.layers\.(\d+)\.self_attn_layer_norm\.(weight|bias)", r"encoder.layers.\1.attn_norm.\2"),
    (r"encoder\.layers\.(\d+)\.fc1\.(weight|bias)", r"encoder.layers.\1.ffn.fc1.\2"),
    (r"encoder\.layers\.(\d+)\.fc2\.(weight|bias)", r"encoder.layers.\1.ffn.fc2.\2"),
    (r"encoder\.layers\.(\d+)\.final_layer_norm\.(weight|bias)", r"encoder.layers.\1.ffn_norm.\2"),
]
# pretraining-only parts: wav2vec2's quantizer and projections, HuBERT's label embeddings, data2vec's EMA
IGNORE = [r"quantizer\..*", r"project_q\..*", r"project_inp\..*", r"final_proj\..*", r"target_glu\..*",
          r"label_embs_concat", r"_ema.*", r"ema\..*", r"layer_norm_target_layer.*", r"spk_proj\..*"]
FINETUNED_PREFIX = "w2v_encoder.w2v_model."


def parse_conv_layers(spec: Any, source: str) -> list[tuple[int, int, int]]:
    """fairseq's ``conv_feature_layers`` string (``"[(512, 10, 5)] + [(512, 3, 2)] * 4"``), which fairseq
    ``eval``s, evaluated here over list/tuple/int literals, ``+`` and ``*`` only."""
    def ev(node: ast.AST) -> Any:
        if isinstance(node, ast.Constant) and isinstance(node.value, int):
            return node.value
        if isinstance(node, (ast.List, ast.Tuple)):
            items = [ev(e) for e in node.elts]
            return items if isinstance(node, ast.List) else tuple(items)
        if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Mult)):
            a, b = ev(node.left), ev(node.right)
            return a + b if isinstance(node.op, ast.Add) else a * b
        raise ValueError(f"unsupported expression {ast.dump(node)[:60]}")

    try:
        layers = ev(ast.parse(str(spec), mode="eval").body)
        layers = [tuple(int(v) for v in layer) for layer in layers]
        if not layers or any(len(layer) != 3 for layer in layers):
            raise ValueError("expected a list of (dim, kernel, stride)")
    except (SyntaxError, ValueError, TypeError) as e:
        raise EdgeSSLError(f"{source}: model.conv_feature_layers={spec!r} cannot be read ({e})") from None
    return layers


def encoder_config(m: dict[str, Any], family: str, source: str,
                   overrides: dict[str, Any] | None = None) -> EncoderConfig:
    """fairseq model config -> EncoderConfig. ``overrides``: the fine-tuning config's dropouts."""
    c = {**DEFAULTS, **{k: v for k, v in m.items() if v is not None}}

    def refuse(field: str, why: str) -> None:
        raise EdgeSSLError(f"{source}: model.{field}={c.get(field)!r} is not supported ({why})")

    if c["activation_fn"] != "gelu":
        refuse("activation_fn", "edge-ssl layers use exact GELU")
    if c["layer_type"] != "transformer":
        refuse("layer_type", "only plain transformer layers; no conformer or adapter layers")
    if c["extractor_mode"] not in ("default", "layer_norm"):
        refuse("extractor_mode", "expected 'default' (group norm) or 'layer_norm'")
    depth = int(c["pos_conv_depth"])
    # fairseq: a stack of pos_conv_depth convs, each of kernel max(3, conv_pos // depth) (data2vec: 95 // 5 = 19)
    kernel = int(c["conv_pos"]) if depth == 1 else max(3, int(c["conv_pos"]) // depth)
    o = {**c, **(overrides or {})}
    enc = EncoderConfig(
        conv_layers=parse_conv_layers(c["conv_feature_layers"], source),
        extractor_mode="group_norm" if c["extractor_mode"] == "default" else "layer_norm",
        conv_bias=bool(c["conv_bias"]), embed_dim=int(c["encoder_embed_dim"]), num_layers=int(c["encoder_layers"]),
        num_heads=int(c["encoder_attention_heads"]), ffn_dim=int(c["encoder_ffn_embed_dim"]),
        layer_norm_first=bool(c["layer_norm_first"]), pos_conv_kernel=kernel, pos_conv_groups=int(c["conv_pos_groups"]),
        pos_conv_depth=depth, dropout=float(o["dropout"]), attention_dropout=float(o["attention_dropout"]),
        activation_dropout=float(o["activation_dropout"]), feature_dropout=float(o["dropout_input"]),
        layerdrop=float(o["encoder_layerdrop"]))
    try:
        enc.validate()
    except ValueError as e:
        raise EdgeSSLError(f"{source}: {e}") from None
    return enc


def model_configs(ckpt: dict, source: str) -> tuple[dict, str, dict | None]:
    """-> (pretraining model config, family, fine-tuning config or None) from ``cfg`` or legacy ``args``."""
    if ckpt.get("cfg") is not None:
        cfg = to_python(ckpt["cfg"])
        m = cfg.get("model") if isinstance(cfg, dict) else None
        name_key = "_name"
    elif ckpt.get("args") is not None:
        m = to_python(ckpt["args"])
        name_key = "arch"
    else:
        raise EdgeSSLError(f"{source}: neither 'cfg' nor 'args' in the checkpoint; is it a fairseq checkpoint?")
    if not isinstance(m, dict):
        raise EdgeSSLError(f"{source}: the checkpoint has no model config (cfg.model / args)")
    finetune = None
    if m.get("w2v_args") is not None:  # a CTC fine-tune: the encoder's own config is nested
        finetune, w = m, m["w2v_args"]
        m = w.get("model", w) if isinstance(w, dict) else None
        if not isinstance(m, dict):
            raise EdgeSSLError(f"{source}: cannot read the nested w2v_args model config")
        name_key = "_name" if "_name" in m else "arch"
    name = str(m.get(name_key) or m.get("_name") or m.get("arch") or "")
    if name in CTC_ARCHS:
        raise EdgeSSLError(f"{source}: a {name} fine-tune without its pretraining config (w2v_args is empty; "
                           f"fairseq would read it from w2v_path={m.get('w2v_path')!r})")
    family = next((f for f in FAMILIES if name.startswith(f)), None)
    if family is None:
        raise EdgeSSLError(f"{source}: model {name!r} is not supported (expected wav2vec2, hubert or data2vec_audio)")
    return m, family, finetune


def task_normalize(ckpt: dict, source: str) -> bool:
    """fairseq's ``task.normalize`` (``normalize`` in legacy ``args``; default false): whether the model takes
    per-utterance normalised audio. A fine-tune's own task decides (fairseq asserts it equals the pretraining's)."""
    if ckpt.get("cfg") is not None:
        cfg = to_python(ckpt["cfg"])
        task, key = (cfg.get("task") if isinstance(cfg, dict) else None), "task.normalize"
    else:
        task, key = to_python(ckpt.get("args")), "args.normalize"
    value = task.get("normalize", False) if isinstance(task, dict) else False
    if not isinstance(value, bool):
        raise EdgeSSLError(f"{source}: {key}={value!r} is not true or false")
    return value


def read_dictionary(ckpt: dict, dict_path: Path | None, pt_path: Path) -> list[str]:
    """fairseq ``Dictionary`` symbols: from ``task_state`` inside the checkpoint, else ``dict.ltr.txt``."""
    task_state = to_python(ckpt.get("task_state") or {})
    symbols = (task_state.get("target_dictionary") or {}).get("symbols") if isinstance(task_state, dict) else None
    if symbols and dict_path is None:
        return list(symbols)
    path = dict_path or pt_path.with_name("dict.ltr.txt")
    if not path.is_file():
        raise EdgeSSLError(f"{pt_path}: a fine-tuned CTC checkpoint needs its letter dictionary; pass --dict "
                           f"dict.ltr.txt (not found: {path})")
    symbols = ["<s>", "<pad>", "</s>", "<unk>"]  # fairseq Dictionary's specials, in its order
    for line in path.read_text().splitlines():
        if not line.strip() or line.startswith("#fairseq:"):
            continue
        symbols.append(line.rsplit(" ", 1)[0] if " " in line.strip() else line.strip())
    return symbols


def import_fairseq(path: str | Path, dict_path: str | Path | None = None, encoder_only: bool = False) -> ImportedTeacher:
    path = Path(path)
    source = str(path)
    ckpt = load_checkpoint(path)
    if not isinstance(ckpt, dict) or not isinstance(ckpt.get("model"), dict):
        raise EdgeSSLError(f"{source}: no 'model' state dict; is it a fairseq checkpoint?")
    m, family, finetune = model_configs(ckpt, source)
    overrides = None
    if finetune is not None:  # fairseq overrides the pretrained encoder's dropouts with the fine-tuning ones
        names = {"dropout": "dropout", "attention_dropout": "attention_dropout",  # pretraining: fine-tuning name
                 "activation_dropout": "activation_dropout", "dropout_input": "dropout_input",
                 "encoder_layerdrop": "layerdrop"}
        overrides = {k: finetune[f] for k, f in names.items() if finetune.get(f) is not None}
    enc = encoder_config(m, family, source, overrides)
    if task_normalize(ckpt, source):  # fairseq normalises with F.layer_norm's eps, EncoderConfig's default
        enc = dataclasses.replace(enc, normalize=True)
    weights = {k: v for k, v in ckpt["model"].items() if isinstance(v, torch.Tensor)}
    proj = {k: weights.pop(k) for k in ("w2v_encoder.proj.weight", "w2v_encoder.proj.bias") if k in weights}
    # a fine-tune nests the pretrained model; anything else left over is reported by ``rename``
    weights = {k.removeprefix(FINETUNED_PREFIX): v for k, v in weights.items()}
    state = rename(weights, RULES, IGNORE, source)
    conv_dim = enc.conv_layers[-1][0]
    if "feature_projection.proj.weight" not in state and conv_dim == enc.embed_dim:
        # fairseq has no post_extract_proj when the conv output already has the model width: identity.
        state["feature_projection.proj.weight"] = torch.eye(conv_dim)
        state["feature_projection.proj.bias"] = torch.zeros(conv_dim)
    if "mask_emb" not in state:
        state["mask_emb"] = torch.empty(enc.embed_dim).uniform_()
    t = ImportedTeacher(enc, state, source, family)
    if proj and not encoder_only:
        w, b = proj["w2v_encoder.proj.weight"], proj["w2v_encoder.proj.bias"]  # (V, C), (V,)
        symbols = read_dictionary(ckpt, Path(dict_path) if dict_path else None, path)
        if len(symbols) != w.shape[0]:
            raise EdgeSSLError(f"{source}: the dictionary has {len(symbols)} symbols but the CTC layer "
                               f"w2v_encoder.proj has {w.shape[0]} outputs")
        # fairseq's CTC blank is <ctc_blank> when the dictionary has one, else the BOS symbol (id 0)
        blank = symbols.index("<ctc_blank>") if "<ctc_blank>" in symbols else 0
        t.vocab, t.head_order = ctc_vocab(symbols, blank, "|", source)
        t.head_weight, t.head_bias = w[t.head_order].contiguous(), b[t.head_order].contiguous()
    elif finetune is not None and not proj and not encoder_only:
        raise EdgeSSLError(f"{source}: fine-tuned checkpoint without w2v_encoder.proj; use --encoder-only")
    log.info("%s: fairseq %s %s, %d layers x %d%s", path, family, t.kind, enc.num_layers, enc.embed_dim,
             ", normalised input" if enc.normalize else "")
    return t
