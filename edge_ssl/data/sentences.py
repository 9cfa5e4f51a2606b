"""TTS prompts: the example sentences of WordNet (Debian ``wordnet-base``), filtered to ones that read cleanly.

WordNet glosses end with quoted usage examples (``| a dry climate; "the desert is very dry"``): ~48k short,
modern English sentences. A prompt is kept only if the TTS engines will say exactly what
``normalize_text`` writes: no digits (engines read "1990" as a year), no acronyms (spelled out letter by
letter), no abbreviations, symbols or non-ASCII.
"""
from __future__ import annotations

import functools
import re
from pathlib import Path

from edge_ssl.asr.decode.tokenizer import normalize_text
from edge_ssl.errors import EdgeSSLError

WORDNET_DIR = Path("/usr/share/wordnet")
_DATA_FILES = ("data.noun", "data.verb", "data.adj", "data.adv")
_QUOTED = re.compile(r'"([^"]+)"')
_CLEAN = re.compile(r"[A-Za-z][A-Za-z ,;:.!?'-]*")  # letters and light punctuation only
_ACRONYM = re.compile(r"[A-Z][A-Z']|\b[A-Za-z]\.[A-Za-z]|\b(?:Mr|Mrs|Ms|Dr|St|Jr|Sr|vs|etc|e\.g|i\.e)\b")


def clean_key(sentence: str, min_words: int = 3, max_words: int = 20) -> str | None:
    """The normalised text of a sentence the engines will read as written, else None."""
    if not _CLEAN.fullmatch(sentence) or _ACRONYM.search(sentence):
        return None
    if "--" in sentence or "''" in sentence or re.search(r"\s['-]|['-](\s|$)", sentence):
        return None  # dashes and quote marks used as punctuation
    text = normalize_text(sentence)
    n = text.count(" ") + 1
    return text if min_words <= n <= max_words and n == len(sentence.split()) else None


def is_clean(sentence: str, min_words: int = 3, max_words: int = 20) -> bool:
    return clean_key(sentence, min_words, max_words) is not None


@functools.lru_cache(maxsize=4)
def wordnet_sentences(root: str | Path = WORDNET_DIR, min_words: int = 3, max_words: int = 20) -> tuple[str, ...]:
    """Clean, de-duplicated example sentences in file order (deterministic)."""
    root = Path(root)
    files = [root / name for name in _DATA_FILES]
    if not any(f.is_file() for f in files):
        raise EdgeSSLError(f"WordNet data files not found in {root}: install the Debian package "
                           f"'wordnet-base' (apt-get install wordnet-base)")
    seen: set[str] = set()
    out: list[str] = []
    for f in files:
        if not f.is_file():
            continue
        with open(f, encoding="latin-1") as fh:
            for line in fh:
                if line.startswith("  ") or "|" not in line:  # licence header / no gloss
                    continue
                for s in _QUOTED.findall(line.split("|", 1)[1]):
                    s = " ".join(s.split())
                    key = clean_key(s, min_words, max_words)
                    if key is not None and key not in seen:
                        seen.add(key)
                        out.append(s)
    if not out:
        raise EdgeSSLError(f"no usable sentences in {root}")
    return tuple(out)
