"""Import pretrained teachers into edge-ssl model files.

``import_teacher(src)`` reads a local HF transformers folder (``hf.py``) or a fairseq ``.pt`` checkpoint
(``fairseq.py``, unpickled by ``safe_unpickle.py``); ``save_teacher`` writes it (``imported.py``).
"""
from __future__ import annotations

from pathlib import Path

from edge_ssl.errors import EdgeSSLError
from edge_ssl.models.convert.imported import ImportedTeacher, build_model, save_teacher

__all__ = ["ImportedTeacher", "build_model", "import_teacher", "save_teacher"]


def import_teacher(src: str | Path, dict_path: str | Path | None = None, encoder_only: bool = False) -> ImportedTeacher:
    """A folder with config.json -> HF import; a file -> fairseq import (``dict_path``: its dict.ltr.txt)."""
    src = Path(src)
    if src.is_dir():
        from edge_ssl.models.convert.hf import import_hf

        if dict_path is not None:
            raise EdgeSSLError("--dict is for fairseq checkpoints; a HF folder carries its vocab.json")
        return import_hf(src, encoder_only=encoder_only)
    if src.is_file():
        from edge_ssl.models.convert.fairseq import import_fairseq

        return import_fairseq(src, dict_path=dict_path, encoder_only=encoder_only)
    raise EdgeSSLError(f"import source not found: {src} (expected a HF model folder or a fairseq .pt file)")
