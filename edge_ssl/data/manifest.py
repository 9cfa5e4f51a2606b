"""Manifests: JSONL, one utterance per line, the one interchange format between preparers and training.

    {"id": "1089-134686-0000", "audio": "audio/1089-134686-0000.flac", "num_samples": 166960,
     "text": "he hoped there would be stew", "speaker": "1089", ...free extra keys kept as-is}

``audio`` is relative to the manifest's folder (or absolute); ``num_samples`` counts samples at 16 kHz;
``text`` and ``speaker`` are optional (unlabeled audio is fine for pretraining). ``num_samples`` is optional
too: when absent it is read from the audio header; when present, training checks it against the header
(``check_audio``): batches are planned from it, so a wrong value must not go unnoticed.
"""
from __future__ import annotations

import json
import logging
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from edge_ssl.errors import EdgeSSLError
from edge_ssl.atomic import atomic_write_text

log = logging.getLogger(__name__)

_KEYS = ("id", "audio", "num_samples", "text", "speaker")
_SHOW_BAD = 20  # unreadable files logged one by one; the rest only counted


class ManifestError(EdgeSSLError):
    """A manifest file is missing or a line of it is malformed. The message names the file and line."""


@dataclass
class Utterance:
    id: str                       # unique within a manifest
    audio_path: Path              # absolute path of the audio file
    num_samples: int | None       # length at 16 kHz; None only from read_manifest(lengths=False) without one
    text: str | None = None       # transcript (normalised or raw), None for unlabeled audio
    speaker: str | None = None    # speaker id, or the TTS voice id
    extra: dict[str, Any] = field(default_factory=dict)  # any other keys, written back unchanged
    where: str = field(default="", compare=False, repr=False)  # "manifest:line" it was read from, for errors

    def to_json(self, root: Path) -> dict[str, Any]:
        """The manifest line, with ``audio`` relative to ``root`` when the file lies under it."""
        audio = os.path.relpath(self.audio_path, root)
        if audio.startswith(".."):
            audio = str(self.audio_path)
        row: dict[str, Any] = {"id": self.id, "audio": Path(audio).as_posix()}
        if self.num_samples is not None:
            row["num_samples"] = self.num_samples
        if self.text is not None:
            row["text"] = self.text
        if self.speaker is not None:
            row["speaker"] = self.speaker
        row.update(self.extra)
        return row


def _parse_line(row: Any, root: Path, where: str, lengths: bool) -> Utterance:
    if not isinstance(row, dict):
        raise ManifestError(f"{where}: expected a JSON object, got {type(row).__name__}")
    for key in ("id", "audio"):
        if key not in row:
            raise ManifestError(f"{where}: missing required key {key!r}")
    if not isinstance(row["id"], str) or not row["id"]:
        raise ManifestError(f"{where}: 'id' must be a non-empty string, got {row['id']!r}")
    if not isinstance(row["audio"], str) or not row["audio"]:
        raise ManifestError(f"{where}: 'audio' must be a non-empty path string, got {row['audio']!r}")
    audio = (root / row["audio"]).resolve()
    n = row.get("num_samples")
    if n is None and lengths:
        from edge_ssl.audio.io import AudioError, audio_info

        try:
            n = audio_info(audio, min_samples=1)[0]
        except AudioError as e:
            raise ManifestError(f"{where}: no 'num_samples', and the audio header cannot give it: {e}") from None
    elif n is not None and (isinstance(n, bool) or not isinstance(n, int) or n <= 0):
        raise ManifestError(f"{where}: 'num_samples' must be a positive integer, got {n!r}")
    for key in ("text", "speaker"):
        if row.get(key) is not None and not isinstance(row[key], str):
            raise ManifestError(f"{where}: {key!r} must be a string, got {row[key]!r}")
    extra = {k: v for k, v in row.items() if k not in _KEYS}
    return Utterance(row["id"], audio, n, row.get("text"), row.get("speaker"), extra, where)


def read_manifest(path: str | Path, lengths: bool = True) -> list[Utterance]:
    """Parse a JSONL manifest. Errors name the file and the 1-based line number.

    ``lengths``: a line without ``num_samples`` gets it from its audio header (an unreadable header is then an
    error naming the line); with False it stays None, for readers that never use it (evaluation)."""
    path = Path(path)
    if not path.is_file():
        raise ManifestError(f"manifest not found: {path}")
    root = path.resolve().parent  # relative audio paths are relative to the file itself, also via a symlink
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
            utt = _parse_line(row, root, where, lengths)
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


def check_audio(utts: list[Utterance], min_samples: int = 1) -> list[Utterance]:
    """Read every utterance's audio header (cheap; no decoding) before training on them: a ``num_samples``
    that disagrees with its file is a ManifestError naming the manifest line; an unreadable or too-short file
    is reported and skipped, so a bad file stops nothing halfway through an epoch. Returns the usable ones."""
    from edge_ssl.audio.io import AudioError, audio_info

    def probe(u: Utterance) -> int | str:
        try:
            return audio_info(u.audio_path, min_samples=min_samples)[0]
        except AudioError as e:
            return str(e)

    with ThreadPoolExecutor(8) as pool:  # headers are small reads: threads hide the disk's latency
        found = list(pool.map(probe, utts))
    kept, bad = [], []
    for u, n in zip(utts, found):
        if isinstance(n, str):
            bad.append((u, n))
        elif u.num_samples is not None and u.num_samples != n:
            raise ManifestError(f"{u.where or u.id}: 'num_samples' is {u.num_samples}, but {u.audio_path} has {n} "
                                f"samples at 16 kHz ({n / 16000:.2f} s) by its header; fix the line or drop the "
                                "key (it is then read from the header)")
        else:
            u.num_samples = n
            kept.append(u)
    for u, reason in bad[:_SHOW_BAD]:
        log.warning("skipping %s: %s", u.where or u.id, reason)
    if len(bad) > _SHOW_BAD:
        log.warning("... and %d more unreadable files", len(bad) - _SHOW_BAD)
    if bad and not kept:
        raise ManifestError(f"none of the {len(bad)} audio files can be used (first: {bad[0][1]})")
    return kept


def total_hours(utts: Iterable[Utterance], sample_rate: int = 16000) -> float:
    return sum(u.num_samples for u in utts) / sample_rate / 3600
