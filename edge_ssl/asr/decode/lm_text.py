"""The sentences an n-gram LM is built from: text files and/or WordNet's examples, minus held-out transcripts.

An LM that has seen a test sentence scores that test too well, so ``exclude`` manifests drop every
sentence whose normalised text equals one of their transcripts.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from edge_ssl.asr.decode.tokenizer import normalize_text
from edge_ssl.errors import EdgeSSLError


@dataclass(frozen=True)
class LMText:
    sentences: list[str]  # normalised, non-empty, in input order (repeats kept: they are counts)
    dropped: int          # sentences removed because an excluded manifest holds them


def read_text_file(path: str | Path) -> list[str]:
    """One sentence per line (or a ``.jsonl`` manifest's transcripts) -> normalised non-empty sentences; a
    missing or wordless file is an error."""
    path = Path(path)
    if not path.is_file():
        raise EdgeSSLError(f"text file not found: {path}")
    if path.suffix == ".jsonl":
        from edge_ssl.data.manifest import read_manifest

        text = "\n".join(u.text for u in read_manifest(path, lengths=False) if u.text)
    else:
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError as e:
            raise EdgeSSLError(f"{path}: cannot read ({e})") from None
    sentences = [s for s in map(normalize_text, text.splitlines()) if s]
    if not sentences:
        raise EdgeSSLError(f"{path}: no words in it (empty after normalisation)")
    return sentences


def gather_lm_text(text_files: Sequence[str | Path] = (), wordnet: bool = False,
                   exclude: Sequence[str | Path] = ()) -> LMText:
    from edge_ssl.data.manifest import read_manifest

    sentences = [s for f in text_files for s in read_text_file(f)]
    if wordnet:
        from edge_ssl.data.sentences import wordnet_sentences

        sentences += [normalize_text(s) for s in wordnet_sentences()]
    if not sentences:
        raise EdgeSSLError("no LM text: give text files and/or --wordnet")
    held_out = {normalize_text(u.text) for m in exclude for u in read_manifest(m, lengths=False) if u.text}
    kept = [s for s in sentences if s not in held_out]
    if not kept:
        raise EdgeSSLError(f"every LM sentence is in an excluded manifest ({', '.join(map(str, exclude))})")
    return LMText(kept, len(sentences) - len(kept))
