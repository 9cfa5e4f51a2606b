"""Import pretrained teachers into edge-ssl model files.

``import_teacher(src)`` reads a local HF transformers folder (``hf.py``) or a fairseq ``.pt`` checkpoint
(``fairseq.py``, unpickled by ``safe_unpickle.py``); ``save_teacher`` writes it (``imported.py``);
``verify.py`` compares an imported HF model with transformers itself.
"""
from __future__ import annotations

import logging
from pathlib import Path

from edge_ssl.errors import EdgeSSLError
from edge_ssl.models.convert.imported import ImportedTeacher, build_model, save_teacher

__all__ = ["ImportedTeacher", "build_model", "import_teacher", "import_to_file", "save_teacher"]

log = logging.getLogger(__name__)
VERIFY_TOL = 1e-4  # max |Δ| per hidden state / logit accepted by --verify


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


def import_to_file(src: str | Path, out: str | Path, dict_path: str | Path | None = None,
                   encoder_only: bool = False, verify: bool = False):
    """Import ``src`` and write ``out`` (+ tokens.txt for CTC). With ``verify`` (HF folders), first compare
    with transformers and write nothing if any hidden state or logit is off by more than ``VERIFY_TOL``.
    Returns (teacher, tokens path or None, Verification or None)."""
    teacher = import_teacher(src, dict_path, encoder_only)
    check = None
    if verify:
        if not Path(src).is_dir():
            raise EdgeSSLError("--verify runs transformers on the source, so it needs a HF folder, not a .pt file")
        from edge_ssl.models.convert.verify import verify_against_transformers

        check = verify_against_transformers(src, build_model(teacher), teacher.head_order)
        if check.worst > VERIFY_TOL:
            raise EdgeSSLError(f"{src}: imported model differs from transformers by {check.worst:.2e} "
                               f"(> {VERIFY_TOL:g}); per layer: {check.layer_max_abs_diff}; nothing written")
    tokens = save_teacher(teacher, out)
    log.info("wrote %s (%s)%s", out, teacher.kind, f" and {tokens}" if tokens else "")
    return teacher, tokens, check
