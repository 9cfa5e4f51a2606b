"""Manifests: JSONL, one utterance per line, the one interchange format between preparers and training.

    {"id": "1089-134686-0000", "audio": "audio/1089-134686-0000.flac", "num_samples": 166960,
     "text": "he hoped there would be stew", "speaker": "1089", ...free extra keys kept as-is}

``audio`` is relative to the manifest's folder (or absolute); ``num_samples`` counts samples at 16 kHz;
``text`` and ``speaker`` are optional (unlabeled audio is fine for pretraining).
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from edge_ssl.errors import EdgeSSLError
from edge_ssl.io import atomic_write_text

_KEYS = ("id", "audio", "num_samples", "text", "speaker")


class ManifestError(EdgeSSLError):
    """A manifest file is missing or a line of it is malformed. The message names the file and line."""


@dataclass
class Utterance:
    id: str                       # unique within a manifest
    audio_path: Path              # absolute path of the audio file
    num_samples: int              # length at 16 kHz
    text: str | None = None       # transcript (normalised or raw), None for unlabeled audio
    speaker: str | None = None    # speaker id, or the TTS voice id
    extra: dict[str, Any] = field(default_factory=dict)  # any other keys, written back unchanged

    def to_json(self, root: Path) -> dict[str, Any]:
        """The manifest line, with ``audio`` relative to ``root`` when the file lies under it."""
        audio = os.path.relpath(self.audio_path, root)
        if audio.startswith(".."):
            audio = str(self.audio_path)
        row: dict[str, Any] = {"id": self.id, "audio": Path(audio).as_posix(), "num_samples": self.num_samples}
        if self.text is not None:
            row["text"] = self.text
        if self.speaker is not None:
            row["speaker"] = self.speaker
        row.update(self.extra)
        return row


def _parse_line(row: Any, root: Path, where: str) -> Utterance:
    if not isinstance(row, dict):
        raise ManifestError(f"{where}: expected a JSON object, got {type(row).__name__}")
    for key in ("id", "audio", "num_samples"):
        if key not in row:
            raise ManifestError(f"{where}: missing required key {key!r}")
    if not isinstance(row["id"], str) or not row["id"]:
        raise ManifestError(f"{where}: 'id' must be a non-empty string, got {row['id']!r}")
    if not isinstance(row["audio"], str) or not row["audio"]:
        raise ManifestError(f"{where}: 'audio' must be a non-empty path string, got {row['audio']!r}")
    n = row["num_samples"]
    if isinstance(n, bool) or not isinstance(n, int) or n <= 0:
        raise ManifestError(f"{where}: 'num_samples' must be a positive integer, got {n!r}")
    for key in ("text", "speaker"):
        if row.get(key) is not None and not isinstance(row[key], str):
            raise ManifestError(f"{where}: {key!r} must be a string, got {row[key]!r}")
    extra = {k: v for k, v in row.items() if k not in _KEYS}
    return Utterance(row["id"], (root / row["audio"]).resolve(), n, row.get("text"), row.get("speaker"), extra)


def read_manifest(path: str | Path) -> list[Utterance]:
    """Parse a JSONL manifest. Errors name the file and the 1-based line number."""
    path = Path(path)
    if not path.is_file():
        raise ManifestError(f"manifest not found: {path}")
    root = path.parent.resolve()
    utts: list[Utterance] = []
    seen: dict[str, int] = {}
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            where = f"{path}:{lineno}"
            try:
                row = json.loads(line)
            except json.JSONDecodeError as e:
                raise ManifestError(f"{where}: invalid JSON ({e.msg} at column {e.colno})") from None
            utt = _parse_line(row, root, where)
            if utt.id in seen:
                raise ManifestError(f"{where}: duplicate id {utt.id!r} (first on line {seen[utt.id]})")
            seen[utt.id] = lineno
            utts.append(utt)
    return utts


def write_manifest(utts: Iterable[Utterance], path: str | Path) -> Path:
    """Write ``utts`` as JSONL atomically; audio paths under the manifest's folder are stored relative."""
    path = Path(path)
    root = path.parent.resolve()
    lines = [json.dumps(u.to_json(root), ensure_ascii=False) + "\n" for u in utts]
    atomic_write_text(path, "".join(lines))
    return path


def total_hours(utts: Iterable[Utterance], sample_rate: int = 16000) -> float:
    return sum(u.num_samples for u in utts) / sample_rate / 3600
