"""Vision model files (safetensors + config metadata, via ``edge_ssl.models.store``).

kinds: ``mae`` (the whole masked autoencoder; its encoder gives features, the decoder reconstructions)
and ``vit`` (the encoder alone, what pretraining hands on and export takes).
"""
from __future__ import annotations

from pathlib import Path

from edge_ssl.config import ConfigError, from_dict
from edge_ssl.errors import EdgeSSLError
from edge_ssl.methods.mae import MAEConfig, MaskedAutoencoder
from edge_ssl.models.store import load_into, load_state, read_model_meta, save_model
from edge_ssl.models.vit import ViT, ViTConfig


def save_vit(model: ViT, path: str | Path, **extra) -> None:
    save_model(model, path, kind="vit", config=model.cfg, **extra)


def save_mae(model: MaskedAutoencoder, path: str | Path, **extra) -> None:
    save_model(model, path, kind="mae", config=model.cfg, **extra)


def load_vision_model(path: str | Path) -> tuple[ViT, MaskedAutoencoder | None, dict]:
    """-> (encoder in eval mode, the MAE around it or None for a ``vit`` file, metadata)."""
    meta = read_model_meta(path)
    kind = meta.get("kind")
    try:
        if kind == "mae":
            mae = MaskedAutoencoder(from_dict(MAEConfig, meta.get("config", {})))
            load_into(mae, load_state(path), path)
            return mae.encoder.eval(), mae.eval(), meta
        if kind == "vit":
            vit = ViT(from_dict(ViTConfig, meta.get("config", {})))
            load_into(vit, load_state(path), path)
            return vit.eval(), None, meta
    except ConfigError as e:
        raise EdgeSSLError(f"{path}: bad model config in metadata: {e}") from None
    raise EdgeSSLError(f"{path}: a {kind!r} model, not a vision model (expected kind 'mae' or 'vit')")
