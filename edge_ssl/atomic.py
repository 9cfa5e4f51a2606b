"""Atomic file writes: every artifact and checkpoint is written to a temp file, fsynced, then renamed.

A crash mid-write leaves the previous file (or nothing), never a truncated one, plus an orphaned temp file
that ``remove_stale_temps`` deletes when the next run starts in that folder.
"""
from __future__ import annotations

import contextlib
import logging
import os
import re
import tempfile
from pathlib import Path
from typing import Any, Iterator

from edge_ssl.errors import EdgeSSLError

log = logging.getLogger(__name__)


# atomic_path's temp names: "." + the target's name + "." + mkstemp's 8 random characters + ".tmp"
_TEMP_NAME = re.compile(r"^\..+\.[a-z0-9_]{8}\.tmp$")


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temp path beside ``path``; on success it replaces ``path`` in one rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        with open(tmp_path, "rb+") as f:
            os.fsync(f.fileno())
        os.chmod(tmp_path, 0o666 & ~_umask())  # mkstemp makes 0600; artifacts are ordinary files
        os.replace(tmp_path, path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def atomic_write_text(path: str | Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def remove_stale_temps(folder: str | Path) -> list[Path]:
    """Delete the temp files a killed writer left in ``folder`` (not recursive). Only for a folder one process
    owns (a run's out_dir at its start): another writer's temp file there would be deleted under it."""
    folder = Path(folder)
    removed = [p for p in folder.iterdir() if _TEMP_NAME.match(p.name) and p.is_file()] if folder.is_dir() else []
    for p in removed:
        p.unlink(missing_ok=True)
    if removed:
        log.info("removed %d temp file(s) left by an interrupted write: %s", len(removed),
                 ", ".join(p.name for p in removed))
    return removed


def torch_load_weights(path: str | Path) -> Any:
    """``torch.load(path, weights_only=True)`` on the CPU. A pickle that names anything beyond tensors and
    containers is refused in one line that names it; torch's own message would advise re-running with
    ``weights_only=False``, which is exactly how a malicious file runs its code."""
    import pickle

    import torch

    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        named = re.search(r"GLOBAL (\S+)", str(e))
        if named is None:
            raise EdgeSSLError(f"{path}: not a readable PyTorch file (bad pickle data)") from None
        raise EdgeSSLError(f"{path}: refused: its pickle calls {named.group(1)}, which no weights file needs "
                           "(loading it could run code); it was not loaded") from None


def file_sha256(path: str | Path) -> str:
    """Hex sha256 of a file, read in 1 MiB blocks (model files are hundreds of MB)."""
    import hashlib

    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()
