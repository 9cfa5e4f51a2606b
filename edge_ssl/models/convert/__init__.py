"""Import pretrained teachers into edge-ssl model files.

``import_teacher(src)`` reads a local HF transformers folder (``hf.py``), a fairseq ``.pt`` checkpoint
(``fairseq.py``, unpickled by ``safe_unpickle.py``) or a Whisper encoder (``whisper.py``: ``whisper:<name>``,
a CTranslate2 folder read by ``ct2.py``, or a HF Whisper folder); ``save_teacher`` writes it (``imported.py``);
``compare.py`` compares an imported HF model with transformers itself (``whisper.verify_whisper`` for Whisper).
"""
from __future__ import annotations

import logging
from pathlib import Path

from edge_ssl.errors import EdgeSSLError
from edge_ssl.models.convert.imported import ImportedTeacher, build_model, save_teacher

__all__ = ["ImportedTeacher", "build_model", "import_teacher", "import_to_file", "save_teacher"]

log = logging.getLogger(__name__)
VERIFY_TOL = 1e-4  # max |Δ| per hidden state / logit accepted by --verify
# CTranslate2 runs its own kernels (oneDNN/MKL GEMMs in another summation order): Whisper base's output, whose
# values reach ~25, differs by ~5e-4 at most on CPU.
VERIFY_TOL_CT2 = 5e-3


def import_teacher(src: str | Path, dict_path: str | Path | None = None, encoder_only: bool = False,
                   pad_to: float | None = None) -> ImportedTeacher:
    """A folder with config.json -> HF import; a file -> fairseq import (``dict_path``: its dict.ltr.txt);
    ``whisper:<name>``, a CTranslate2 folder or a HF Whisper folder -> the Whisper encoder (``pad_to``: seconds
    of silence padding the saved encoder applies, default Whisper's 30; see whisper.import_whisper)."""
    from edge_ssl.models.convert.whisper import import_whisper, is_whisper_source

    if is_whisper_source(src):
        if dict_path is not None:
            raise EdgeSSLError("--dict is for fairseq checkpoints; a Whisper import keeps only the encoder")
        return import_whisper(src, pad_to=pad_to)
    if pad_to is not None:
        raise EdgeSSLError(f"{src}: --pad-to is for Whisper encoders, and this is not a Whisper source "
                           f"(whisper:<name>, a CTranslate2 folder or a HF Whisper folder)")
    src = Path(src)
    if src.is_dir():
        from edge_ssl.models.convert.hf import import_hf

        if dict_path is not None:
            raise EdgeSSLError("--dict is for fairseq checkpoints; a HF folder carries its vocab.json")
        return import_hf(src, encoder_only=encoder_only)
    if src.is_file():
        from edge_ssl.models.convert.fairseq import import_fairseq

        return import_fairseq(src, dict_path=dict_path, encoder_only=encoder_only)
    raise EdgeSSLError(f"import source not found: {src} (expected a HF model folder, a fairseq .pt file, "
                       f"a CTranslate2 Whisper folder or whisper:<name>)")


def import_to_file(src: str | Path, out: str | Path, dict_path: str | Path | None = None,
                   encoder_only: bool = False, verify: bool = False, pad_to: float | None = None):
    """Import ``src`` and write ``out`` (+ tokens.txt for CTC). With ``verify`` (HF folders), first compare
    with transformers and write nothing if any hidden state or logit is off by more than ``VERIFY_TOL``
    (Whisper from CTranslate2: with ctranslate2's own encoder, within ``VERIFY_TOL_CT2``).
    Returns (teacher, tokens path or None, Verification or None)."""
    teacher = import_teacher(src, dict_path, encoder_only, pad_to)
    check = None
    if verify and teacher.family == "whisper":
        from edge_ssl.models.convert.whisper import ct2_folder, verify_whisper

        check = verify_whisper(src, build_model(teacher))
        tol = VERIFY_TOL_CT2 if ct2_folder(src) is not None else VERIFY_TOL
        if check.worst > tol:
            raise EdgeSSLError(f"{src}: imported encoder differs from the reference by {check.worst:.2e} "
                               f"(> {tol:g}); per state: {check.layer_max_abs_diff}; nothing written")
    elif verify:
        if not Path(src).is_dir():
            raise EdgeSSLError("--verify runs transformers on the source, so it needs a HF folder, not a .pt file")
        from edge_ssl.models.convert.compare import verify_against_transformers

        check = verify_against_transformers(src, build_model(teacher), teacher.head_order)
        if check.worst > VERIFY_TOL:
            raise EdgeSSLError(f"{src}: imported model differs from transformers by {check.worst:.2e} "
                               f"(> {VERIFY_TOL:g}); per layer: {check.layer_max_abs_diff}; nothing written")
    tokens = save_teacher(teacher, out)
    log.info("wrote %s (%s)%s", out, teacher.kind, f" and {tokens}" if tokens else "")
    return teacher, tokens, check
