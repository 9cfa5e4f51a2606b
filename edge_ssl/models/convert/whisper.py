"""Import a Whisper encoder: a HF transformers folder or a CTranslate2 folder -> ``ImportedTeacher``.

Only the encoder is kept (the decoder and its output projection are dropped); the result is a
``SpeechEncoder`` with the ``whisper()`` config, so distillation, student initialisation and export treat it
like any other teacher. Sources:

- ``whisper:<name>``: the offline CTranslate2 folders of edge_ssl.asr.evaluate.whisper_models (``base``, ``tiny.en``);
- a CTranslate2 folder (``model.bin``, read by ``ct2.py``; fp16/fp32, not int8);
- a HF folder (``config.json`` with ``model_type: whisper`` + ``model.safetensors`` or ``pytorch_model.bin``,
  from ``WhisperModel`` or ``WhisperForConditionalGeneration``).

Whisper's key projection has no bias; edge-ssl's attention keeps one, set to zero, which is the same
function (a key bias adds the same q.b to every score of a query, and softmax ignores it).
"""
from __future__ import annotations

import dataclasses
import json
import logging
import re
from pathlib import Path
from typing import Any

import numpy as np
import torch

from edge_ssl.errors import EdgeSSLError
from edge_ssl.models.convert.ct2 import CT2Model, read_ct2
from edge_ssl.models.convert.imported import ImportedTeacher, rename
from edge_ssl.models.speech_encoder import EncoderConfig, whisper
from edge_ssl.models.whisper_frontend import HOP, WhisperLogMel

log = logging.getLogger(__name__)

PREFIX = "whisper:"
FAMILY = "whisper"
# transformers' WhisperConfig defaults for the fields the encoder uses (older configs omit some)
HF_DEFAULTS = dict(d_model=384, encoder_layers=4, encoder_attention_heads=6, encoder_ffn_dim=1536, num_mel_bins=80,
                   max_source_positions=1500, activation_function="gelu", dropout=0.0, attention_dropout=0.0,
                   activation_dropout=0.0, encoder_layerdrop=0.0)

HF_RULES = [
    (r"encoder\.conv1\.(weight|bias)", r"feature_extractor.conv_layers.0.conv.\1"),
    (r"encoder\.conv2\.(weight|bias)", r"feature_extractor.conv_layers.1.conv.\1"),
    (r"encoder\.embed_positions\.weight", r"encoder.positions.weight"),
    (r"encoder\.layers\.(\d+)\.self_attn\.(q|k|v|out)_proj\.(weight|bias)", r"encoder.layers.\1.attn.\2_proj.\3"),
    (r"encoder\.layers\.(\d+)\.self_attn_layer_norm\.(weight|bias)", r"encoder.layers.\1.attn_norm.\2"),
    (r"encoder\.layers\.(\d+)\.fc([12])\.(weight|bias)", r"encoder.layers.\1.ffn.fc\2.\3"),
    (r"encoder\.layers\.(\d+)\.final_layer_norm\.(weight|bias)", r"encoder.layers.\1.ffn_norm.\2"),
    (r"encoder\.layer_norm\.(weight|bias)", r"encoder.layer_norm.\1"),
]

CT2_RULES = [
    (r"encoder/conv1/(weight|bias)", r"feature_extractor.conv_layers.0.conv.\1"),
    (r"encoder/conv2/(weight|bias)", r"feature_extractor.conv_layers.1.conv.\1"),
    (r"encoder/position_encodings/encodings", r"encoder.positions.weight"),
    (r"encoder/layer_(\d+)/self_attention/layer_norm/gamma", r"encoder.layers.\1.attn_norm.weight"),
    (r"encoder/layer_(\d+)/self_attention/layer_norm/beta", r"encoder.layers.\1.attn_norm.bias"),
    (r"encoder/layer_(\d+)/self_attention/linear_0/(weight|bias)", r"encoder.layers.\1.attn.qkv.\2"),  # fused
    (r"encoder/layer_(\d+)/self_attention/linear_1/(weight|bias)", r"encoder.layers.\1.attn.out_proj.\2"),
    (r"encoder/layer_(\d+)/ffn/layer_norm/gamma", r"encoder.layers.\1.ffn_norm.weight"),
    (r"encoder/layer_(\d+)/ffn/layer_norm/beta", r"encoder.layers.\1.ffn_norm.bias"),
    (r"encoder/layer_(\d+)/ffn/linear_0/(weight|bias)", r"encoder.layers.\1.ffn.fc1.\2"),
    (r"encoder/layer_(\d+)/ffn/linear_1/(weight|bias)", r"encoder.layers.\1.ffn.fc2.\2"),
    (r"encoder/layer_norm/gamma", r"encoder.layer_norm.weight"),
    (r"encoder/layer_norm/beta", r"encoder.layer_norm.bias"),
]
CT2_CONFIG_SCALARS = ("encoder/num_heads",)


def is_whisper_source(src: str | Path) -> bool:
    """``whisper:<name>``, a CTranslate2 folder, or a HF folder whose config says ``model_type: whisper``."""
    if str(src).startswith(PREFIX):
        return True
    src = Path(src)
    if (src / "model.bin").is_file():
        return True
    cfg = src / "config.json"
    if cfg.is_file():
        try:
            return json.loads(cfg.read_text()).get("model_type") == "whisper"
        except (json.JSONDecodeError, AttributeError):
            return False
    return False


def import_whisper(src: str | Path, pad_to: float | None = None) -> ImportedTeacher:
    """Any Whisper source -> the encoder as an ``ImportedTeacher`` (family ``whisper``).

    ``pad_to`` (seconds; default: the whole position table, 30 s): the saved encoder pads each clip with
    silence to at least this long and crops the outputs back to the clip's frames (``pad_to_frames``).
    30 s is Whisper's own window, the only setting equal to transformers / CTranslate2 / openai-whisper on a
    short clip; 10 s costs ~1/5 of it on 1-2 s clips at a final-layer cosine of ~0.98 to it; 0 runs the clip
    alone (cheapest; cosine ~0.87-0.95 at the last layer)."""
    if str(src).startswith(PREFIX):
        from edge_ssl.asr.evaluate.whisper_models import whisper_model_dir

        name = str(src)[len(PREFIX):]
        teacher = import_ct2(whisper_model_dir(name), source=f"{PREFIX}{name}")
    elif (Path(src) / "model.bin").is_file():
        teacher = import_ct2(src)
    else:
        teacher = import_hf_whisper(src)
    teacher.encoder = dataclasses.replace(teacher.encoder, pad_to_frames=pad_frames(pad_to, teacher.encoder, src))
    return teacher


def pad_frames(seconds: float | None, enc: EncoderConfig, source: str | Path) -> int:
    """Seconds of padding -> encoder frames (50 per second), checked against the position table. None: the
    whole table (30 s for every released Whisper)."""
    if seconds is None:
        return enc.max_positions
    frames = round(seconds * 16000 / (HOP * 2))
    if not 0 <= frames <= enc.max_positions:
        raise EdgeSSLError(f"{source}: --pad-to {seconds:g} s is outside 0..{enc.max_positions / 50:g} s "
                           f"(the encoder's {enc.max_positions} positions)")
    return frames


def _complete(state: dict[str, torch.Tensor], enc: EncoderConfig) -> dict[str, torch.Tensor]:
    """Add what Whisper's files do not carry: the zero key biases, the fixed log-mel buffers, a mask vector."""
    for i in range(enc.num_layers):
        state.setdefault(f"encoder.layers.{i}.attn.k_proj.bias", torch.zeros(enc.embed_dim))
    for k, v in WhisperLogMel(enc.n_mels).state_dict().items():
        state[f"feature_extractor.logmel.{k}"] = v
    # Whisper has no mask embedding; masked pretraining/distillation of a student starts from this one.
    state["mask_emb"] = torch.empty(enc.embed_dim).uniform_()
    return state


def _check(enc: EncoderConfig, source: str) -> EncoderConfig:
    try:
        enc.validate()
    except ValueError as e:
        raise EdgeSSLError(f"{source}: {e}") from None
    return enc


# ---- CTranslate2 ----

def import_ct2(folder: str | Path, source: str | None = None) -> ImportedTeacher:
    model = read_ct2(folder)
    source = source or str(folder)
    if model.spec != "WhisperSpec":
        raise EdgeSSLError(f"{model.path}: a CTranslate2 {model.spec} model; only WhisperSpec (Whisper) is supported")
    names = [n for n in model.variables if n.startswith("encoder/") and n not in CT2_CONFIG_SCALARS]
    if not names:
        raise EdgeSSLError(f"{model.path}: no encoder/* variables")
    enc = _ct2_config(model, source)
    state = rename({n: torch.from_numpy(model.float32(n)) for n in names}, CT2_RULES, [], str(model.path))
    d = enc.embed_dim
    for i in range(enc.num_layers):  # fused (3C, C) q/k/v -> three (C, C)
        for kind in ("weight", "bias"):
            fused = state.pop(f"encoder.layers.{i}.attn.qkv.{kind}", None)
            if fused is None:
                raise EdgeSSLError(f"{model.path}: no encoder/layer_{i}/self_attention/linear_0/{kind}")
            if fused.shape[0] != 3 * d:
                raise EdgeSSLError(f"{model.path}: encoder/layer_{i}/self_attention/linear_0/{kind} has "
                                   f"{fused.shape[0]} rows, expected 3 x {d} (fused q, k, v)")
            for part, value in zip("qkv", fused.split(d, dim=0)):
                state[f"encoder.layers.{i}.attn.{part}_proj.{kind}"] = value.contiguous()
    log.info("%s: Whisper encoder (CTranslate2 %s), %d layers x %d, %d heads, %d mels", source, model.spec,
             enc.num_layers, d, enc.num_heads, enc.n_mels)
    return ImportedTeacher(enc, _complete(state, enc), source, FAMILY)


def _ct2_config(model: CT2Model, source: str) -> EncoderConfig:
    """Sizes from the tensors themselves: CTranslate2's config.json holds only decoding settings."""
    conv1 = model.get("encoder/conv1/weight")                               # (C, n_mels, 3)
    layers = {int(m.group(1)) for n in model.variables if (m := re.match(r"encoder/layer_(\d+)/", n))}
    if layers != set(range(len(layers))):
        raise EdgeSSLError(f"{model.path}: encoder layers {sorted(layers)} are not numbered 0..{len(layers) - 1}")
    heads = int(model.scalar("encoder/num_heads"))
    ffn = model.get("encoder/layer_0/ffn/linear_0/weight").shape[0]
    positions = model.get("encoder/position_encodings/encodings").shape[0]
    if conv1.ndim != 3 or conv1.shape[2] != 3:
        raise EdgeSSLError(f"{model.path}: encoder/conv1/weight has shape {conv1.shape}, expected (C, n_mels, 3)")
    enc = whisper(embed_dim=int(conv1.shape[0]), num_layers=len(layers), num_heads=heads, n_mels=int(conv1.shape[1]),
                  ffn_dim=int(ffn), max_positions=int(positions))
    return _check(enc, source)


# ---- HF transformers ----

def read_hf_config(folder: Path) -> dict[str, Any]:
    path = folder / "config.json"
    if not path.is_file():
        raise EdgeSSLError(f"{folder}: no config.json (expected a HF Whisper folder) and no model.bin "
                           f"(expected a CTranslate2 folder)")
    try:
        cfg = json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise EdgeSSLError(f"{path}: not valid JSON ({e})") from None
    if cfg.get("model_type") != "whisper":
        raise EdgeSSLError(f"{path}: model_type {cfg.get('model_type')!r}, expected 'whisper'")
    return {**HF_DEFAULTS, **cfg}


def hf_encoder_config(cfg: dict[str, Any], source: str) -> EncoderConfig:
    if cfg["activation_function"] != "gelu":
        raise EdgeSSLError(f"{source}: config field activation_function={cfg['activation_function']!r} is not "
                           f"supported (edge-ssl uses exact GELU)")
    enc = whisper(embed_dim=cfg["d_model"], num_layers=cfg["encoder_layers"], num_heads=cfg["encoder_attention_heads"],
                  n_mels=cfg["num_mel_bins"], ffn_dim=cfg["encoder_ffn_dim"], max_positions=cfg["max_source_positions"],
                  dropout=float(cfg["dropout"]), attention_dropout=float(cfg["attention_dropout"]),
                  activation_dropout=float(cfg["activation_dropout"]), layerdrop=float(cfg["encoder_layerdrop"]))
    return _check(enc, source)


def import_hf_whisper(folder: str | Path) -> ImportedTeacher:
    from edge_ssl.models.convert.hf import read_weights

    folder = Path(folder)
    source = str(folder)
    cfg = read_hf_config(folder)
    enc = hf_encoder_config(cfg, source)
    weights = read_weights(folder)
    # WhisperForConditionalGeneration nests the model under "model." beside "proj_out"
    if any(k.startswith("model.encoder.") for k in weights):
        weights = {k[len("model."):]: v for k, v in weights.items() if k.startswith("model.")}
    encoder = {k: v for k, v in weights.items() if k.startswith("encoder.")}
    if not encoder:
        raise EdgeSSLError(f"{folder}: no encoder.* weights (is this a Whisper model folder?)")
    dropped = len(weights) - len(encoder)
    state = {k: v.float() for k, v in rename(encoder, HF_RULES, [], source).items()}
    log.info("%s: Whisper encoder (%s), %d layers x %d; %d other tensors (decoder, heads) not imported", source,
             (cfg.get("architectures") or ["WhisperModel"])[0], enc.num_layers, enc.embed_dim, dropped)
    return ImportedTeacher(enc, _complete(state, enc), source, FAMILY)


# ---- checks against the reference implementations ----

def verify_whisper(src: str | Path, model: torch.nn.Module, seconds: float = 2.0, seed: int = 0):
    """Compare the imported encoder with the source's own implementation on a random clip followed by
    silence to 30 s (so both see the identical input): transformers' ``WhisperEncoder`` for a HF folder
    (every hidden state), CTranslate2's ``Whisper.encode`` for a CTranslate2 folder (the output only).
    Returns a ``Verification`` (max |Δ| per compared state)."""
    from edge_ssl.models.convert.compare import Verification

    window = model.cfg.max_positions * model.downsample_rate
    n = min(int(16000 * seconds), window // 2)  # silence after it: the last frames match Whisper's padding too
    wave = torch.zeros(1, window)
    wave[0, :n] = 0.1 * torch.randn(n, generator=torch.Generator().manual_seed(seed))   # (1, S)
    with torch.no_grad():
        feats = model.feature_extractor.logmel(wave[:, None])                 # (1, M, 2P)
        got = model.extract_features(wave).hidden_states
    path = ct2_folder(src)
    if path is not None:
        ref = ct2_encode(path, feats.numpy())
        return Verification([float(np.abs(ref - got[-1].numpy()).max())], None)
    try:
        import transformers
    except ImportError:
        raise EdgeSSLError("--verify needs transformers (pip install 'edge-ssl[dev]')") from None
    hf = transformers.WhisperModel.from_pretrained(str(src), local_files_only=True).encoder.eval()
    with torch.no_grad():
        out = hf(feats, output_hidden_states=True)
    expected = list(out.hidden_states[:-1]) + [out.last_hidden_state]
    if len(expected) != len(got):
        raise EdgeSSLError(f"{src}: {len(expected)} hidden states from transformers, {len(got)} imported")
    return Verification([float((a - b).abs().max()) for a, b in zip(expected, got)], None)


def ct2_folder(src: str | Path) -> Path | None:
    if str(src).startswith(PREFIX):
        from edge_ssl.asr.evaluate.whisper_models import whisper_model_dir

        return whisper_model_dir(str(src)[len(PREFIX):])
    return Path(src) if (Path(src) / "model.bin").is_file() else None


def ct2_encode(folder: Path, features: np.ndarray) -> np.ndarray:
    """CTranslate2's own Whisper encoder on (B, n_mels, 3000) features -> (B, 1500, C) float32 (CPU)."""
    try:
        import ctranslate2
    except ImportError:
        raise EdgeSSLError("checking a CTranslate2 model needs ctranslate2 (pip install 'edge-ssl[peers]')") from None
    ref = ctranslate2.models.Whisper(str(folder), device="cpu", compute_type="float32")
    out = ref.encode(ctranslate2.StorageView.from_array(np.ascontiguousarray(features, dtype=np.float32)), to_cpu=True)
    return np.array(out)
