"""Preparers: turn audio on disk (LibriSpeech, or any folder) into manifests.

Each preparer reads only file headers (``audio_info``), reports every bad file with the reason, skips it,
and logs a count. A result with no usable utterance at all is an error, never an empty manifest.
"""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from pathlib import Path

from edge_ssl.audio.io import AUDIO_SUFFIXES, AudioError, audio_info
from edge_ssl.data.manifest import Utterance, write_manifest
from edge_ssl.errors import EdgeSSLError

log = logging.getLogger(__name__)

_SHOW_BAD = 20  # bad files logged one by one; the rest only counted


@dataclass
class PrepareReport:
    manifests: dict[str, Path] = field(default_factory=dict)  # split name -> manifest written
    kept: dict[str, int] = field(default_factory=dict)         # split name -> utterances written
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (file, reason)

    def skip(self, path: Path | str, reason: str) -> None:
        if len(self.skipped) < _SHOW_BAD:
            log.warning("skipping %s: %s", path, reason)
        self.skipped.append((str(path), reason))

    def summary(self) -> str:
        parts = [f"{name}: {self.kept[name]} utterances -> {p}" for name, p in self.manifests.items()]
        return "; ".join(parts) + f"; {len(self.skipped)} bad file(s) skipped"


def _probe(path: Path, report: PrepareReport) -> int | None:
    """num_samples at 16 kHz, or None after reporting why the file is unusable."""
    try:
        return audio_info(path)[0]
    except AudioError as e:
        report.skip(path, str(e).removeprefix(f"{path}: "))
        return None


def _finish(report: PrepareReport, what: str) -> PrepareReport:
    if len(report.skipped) > _SHOW_BAD:
        log.warning("... and %d more bad files", len(report.skipped) - _SHOW_BAD)
    if not any(report.kept.values()):
        reasons = "; ".join(f"{p}: {r}" for p, r in report.skipped[:3])
        raise EdgeSSLError(f"{what}: no usable utterances" + (f" ({reasons} ...)" if reasons else ""))
    return report  # the caller prints report.summary()


# --- LibriSpeech --------------------------------------------------------------------------------------

def _librispeech_splits(root: Path) -> list[Path]:
    """Split folders (``train-clean-100`` ...) under ``root``, or ``root`` itself if it is one."""
    def is_split(d: Path) -> bool:
        return any(d.glob("*/*/*.trans.txt"))
    if is_split(root):
        return [root]
    candidates = [root, root / "LibriSpeech"]
    return sorted(d for base in candidates if base.is_dir() for d in base.iterdir() if d.is_dir() and is_split(d))


def prepare_librispeech(root: str | Path, out_dir: str | Path) -> PrepareReport:
    """One manifest per LibriSpeech split folder found under ``root`` (e.g. ``train-clean-100.jsonl``).

    Layout: ``<split>/<speaker>/<chapter>/<spk>-<ch>-<utt>.flac`` beside ``<spk>-<ch>.trans.txt``, whose
    lines are ``<utt-id> TRANSCRIPT``. speaker = the LibriSpeech speaker id.
    """
    root, out_dir = Path(root), Path(out_dir)
    if not root.is_dir():
        raise EdgeSSLError(f"LibriSpeech root not found: {root}")
    splits = _librispeech_splits(root)
    if not splits:
        raise EdgeSSLError(f"{root}: no LibriSpeech split found (expected <split>/<speaker>/<chapter>/"
                           f"<spk>-<ch>.trans.txt)")
    report = PrepareReport()
    for split in splits:
        utts: list[Utterance] = []
        for trans in sorted(split.glob("*/*/*.trans.txt")):
            chapter_dir = trans.parent
            listed = set()
            for lineno, line in enumerate(trans.read_text(encoding="utf-8").splitlines(), 1):
                if not line.strip():
                    continue
                uid, _, text = line.strip().partition(" ")
                if not text:
                    report.skip(f"{trans}:{lineno}", "transcript line has no text")
                    continue
                listed.add(uid)
                audio = chapter_dir / f"{uid}.flac"
                if not audio.exists():
                    report.skip(audio, f"listed in {trans.name} line {lineno} but the file is missing")
                    continue
                n = _probe(audio, report)
                if n is not None:
                    utts.append(Utterance(uid, audio.resolve(), n, text.lower(), uid.split("-")[0]))
            for audio in sorted(chapter_dir.glob("*.flac")):
                if audio.stem not in listed:
                    report.skip(audio, f"no transcript line in {trans.name}")
        report.kept[split.name] = len(utts)
        if utts:
            report.manifests[split.name] = write_manifest(utts, out_dir / f"{split.name}.jsonl")
        else:
            log.warning("%s: no usable utterances, no manifest written", split)
    return _finish(report, f"LibriSpeech {root}")


# --- any folder ---------------------------------------------------------------------------------------

def _read_transcripts(path: Path) -> dict[str, str]:
    """``id<TAB>text`` (TSV) or ``id text`` lines -> {id: text}. ids may be file stems or relative paths."""
    if not path.is_file():
        raise EdgeSSLError(f"transcripts file not found: {path}")
    table: dict[str, str] = {}
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        key, _, text = line.partition("\t") if "\t" in line else line.strip().partition(" ")
        if not key.strip() or not text.strip():
            raise EdgeSSLError(f"{path}:{lineno}: expected '<id><TAB or space><text>', got {line!r}")
        table[key.strip()] = text.strip()
    return table


def _folder_id(rel: Path) -> str:
    return re.sub(r"[^\w.-]+", "_", rel.with_suffix("").as_posix().replace("/", "-"))


def prepare_folder(folder: str | Path, out: str | Path, transcripts: str | Path | None = None) -> PrepareReport:
    """A manifest of every audio file under ``folder`` (recursively).

    Text comes from ``transcripts`` (``id<TAB>text`` or ``id text`` per line, id = file stem or path
    relative to ``folder`` without suffix) when given, else from a sibling ``<name>.txt`` per audio file;
    files without text are kept unlabeled.
    """
    folder, out = Path(folder), Path(out)
    if not folder.is_dir():
        raise EdgeSSLError(f"audio folder not found: {folder}")
    table = _read_transcripts(Path(transcripts)) if transcripts is not None else None
    report = PrepareReport()
    utts: list[Utterance] = []
    labeled = 0
    for audio in sorted(p for p in folder.rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES and p.is_file()):
        rel = audio.relative_to(folder)
        n = _probe(audio, report)
        if n is None:
            continue
        if table is not None:
            text = table.get(rel.with_suffix("").as_posix(), table.get(audio.stem))
        else:
            sibling = audio.with_suffix(".txt")
            text = " ".join(sibling.read_text(encoding="utf-8").split()) if sibling.is_file() else None
        labeled += text is not None
        utts.append(Utterance(_folder_id(rel), audio.resolve(), n, text or None))
    first: dict[str, Path] = {}
    for u in utts:
        if u.id in first:
            raise EdgeSSLError(f"{folder}: {first[u.id]} and {u.audio_path} map to the same id {u.id!r} "
                               "(ids are paths without the audio suffix); rename or remove one of them")
        first[u.id] = u.audio_path
    report.kept[out.stem] = len(utts)
    if utts:
        report.manifests[out.stem] = write_manifest(utts, out)
        log.info("%s: %d of %d utterances have a transcript", folder, labeled, len(utts))
    return _finish(report, f"audio folder {folder}")
