"""Model files: safetensors weights plus the config needed to rebuild the model, in one atomic file.

The safetensors header carries ``{"edge_ssl": json}`` with ``kind`` ("speech_encoder" | "ctc" | ...),
the encoder config, and kind-specific fields (``vocab`` for CTC). Loading never unpickles anything.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, safe_open, save_file

from edge_ssl.config import ConfigError, from_dict, to_dict
from edge_ssl.errors import EdgeSSLError
from edge_ssl.atomic import atomic_path
from edge_ssl.models.speech_encoder import EncoderConfig, SpeechEncoder

FORMAT_VERSION = 1


def save_model(model: torch.nn.Module, path: str | Path, kind: str, config: Any, **extra: Any) -> None:
    """Write ``model``'s weights with ``kind``, its config (a dataclass) and JSON-able ``extra``."""
    meta = {"format_version": FORMAT_VERSION, "kind": kind, "config": to_dict(config), **extra}
    state = {k: v.detach().contiguous() for k, v in model.state_dict().items()}
    with atomic_path(path) as tmp:
        save_file(state, str(tmp), metadata={"edge_ssl": json.dumps(meta)})


def read_model_meta(path: str | Path) -> dict:
    path = Path(path)
    if not path.is_file():
        raise EdgeSSLError(f"model file not found: {path}")
    try:
        with safe_open(str(path), framework="pt") as f:
            header = f.metadata() or {}
    except (SafetensorError, OSError, ValueError) as e:
        raise EdgeSSLError(f"{path}: not a readable safetensors model file ({e})") from None
    if "edge_ssl" not in header:
        raise EdgeSSLError(f"{path}: no edge_ssl metadata; was it written by edge-ssl (or `edge-ssl import`)?")
    return json.loads(header["edge_ssl"])


def load_state(path: str | Path) -> dict[str, torch.Tensor]:
    try:
        return load_file(str(path))
    except (SafetensorError, OSError, ValueError) as e:
        raise EdgeSSLError(f"{path}: cannot read weights ({e})") from None


def load_into(model: torch.nn.Module, state: dict[str, torch.Tensor], source: str | Path) -> None:
    """``load_state_dict`` whose error names every missing, unexpected and mis-shaped tensor."""
    own = model.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    shapes = [f"{k}: file {tuple(state[k].shape)} vs model {tuple(own[k].shape)}"
              for k in sorted(set(own) & set(state)) if own[k].shape != state[k].shape]
    if missing or unexpected or shapes:
        parts = []
        if missing:
            parts.append(f"missing {len(missing)}: {', '.join(missing[:8])}")
        if unexpected:
            parts.append(f"unexpected {len(unexpected)}: {', '.join(unexpected[:8])}")
        if shapes:
            parts.append(f"shape mismatch {len(shapes)}: {'; '.join(shapes[:8])}")
        raise EdgeSSLError(f"{source}: weights do not match the model config ({' | '.join(parts)})")
    model.load_state_dict(state)


def encoder_config_from(meta: dict, path: str | Path) -> EncoderConfig:
    cfg = meta.get("config", {})
    enc = cfg.get("encoder", cfg)
    try:
        return from_dict(EncoderConfig, enc)
    except ConfigError as e:
        raise EdgeSSLError(f"{path}: bad encoder config in metadata: {e}") from None


def load_model(path: str | Path) -> tuple[torch.nn.Module, dict]:
    """Rebuild a ``speech_encoder`` or ``ctc`` model from its file. Returns (model in eval mode, meta)."""
    from edge_ssl.models.ctc import CTCModel  # local: ctc imports this module's siblings only

    meta = read_model_meta(path)
    kind = meta.get("kind")
    enc_cfg = encoder_config_from(meta, path)
    if kind == "speech_encoder":
        model = SpeechEncoder(enc_cfg)
    elif kind == "ctc":
        if "vocab" not in meta:
            raise EdgeSSLError(f"{path}: ctc model without a 'vocab' in its metadata")
        model = CTCModel(enc_cfg, len(meta["vocab"]))
    else:
        raise EdgeSSLError(f"{path}: unknown model kind {kind!r} (expected speech_encoder or ctc)")
    load_into(model, load_state(path), path)
    return model.eval(), meta
