"""Resumable training checkpoints: model, optimiser, scheduler, sampler position, step and every RNG.

Written atomically (temp file + fsync + rename), read with ``weights_only=True``. A corrupt or truncated
file is a ``CheckpointError``, never a silent fresh start.
"""
from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

from edge_ssl.errors import EdgeSSLError
from edge_ssl.atomic import atomic_path, torch_load_weights


class CheckpointError(EdgeSSLError):
    pass


def rng_state() -> dict[str, Any]:
    """Every RNG a training step touches, in a form ``weights_only`` loading accepts (no numpy objects)."""
    kind, keys, pos, has_gauss, gauss = np.random.get_state()
    state = {
        "python": random.getstate(),
        "numpy": {"kind": kind, "keys": torch.from_numpy(keys.astype(np.int64)), "pos": int(pos),
                  "has_gauss": int(has_gauss), "gauss": float(gauss)},
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    random.setstate(_as_tuples(state["python"]))
    n = state["numpy"]
    np.random.set_state((n["kind"], n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["gauss"]))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _as_tuples(x: Any) -> Any:
    return tuple(_as_tuples(v) for v in x) if isinstance(x, (list, tuple)) else x


def save_checkpoint(path: str | Path, state: dict[str, Any]) -> None:
    with atomic_path(path) as tmp:
        torch.save(state, tmp)


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint not found: {path}")
    try:
        state = torch_load_weights(path)
    except EdgeSSLError as e:  # a pickle that would run code: never loaded, never advised to be
        raise CheckpointError(str(e)) from None
    except Exception as e:  # truncated zip, unreadable file: "unusable"
        raise CheckpointError(f"{path}: corrupt or unreadable checkpoint ({type(e).__name__}: {e}); "
                              "delete it to start fresh, or restore a good copy") from None
    missing = {"model", "optimizer", "step"} - set(state if isinstance(state, dict) else ())
    if missing:
        raise CheckpointError(f"{path}: not a training checkpoint (missing {', '.join(sorted(missing))})")
    return state
