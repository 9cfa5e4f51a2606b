"""Character vocabulary for CTC, with the text normalisation every stage shares.

Token 0 is the CTC blank, token 1 the word separator ``|`` (fairseq/HF convention), then letters and
the apostrophe. ``tokens.txt`` lists one token per line as ``<token> <id>`` (sherpa-onnx's format).
"""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path

from edge_ssl.errors import EdgeSSLError
from edge_ssl.atomic import atomic_write_text

log = logging.getLogger(__name__)

BLANK, SPACE = "<blk>", "|"
DEFAULT_CHARS = "abcdefghijklmnopqrstuvwxyz'"

_ONES = "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen " \
        "sixteen seventeen eighteen nineteen".split()
_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()


def number_to_words(n: int) -> str:
    """0 <= n < 10**12 as English words ("one hundred twenty three")."""
    if n < 20:
        return _ONES[n]
    if n < 100:
        return _TENS[n // 10] + ("" if n % 10 == 0 else " " + _ONES[n % 10])
    for size, name in ((10**9, "billion"), (10**6, "million"), (1000, "thousand"), (100, "hundred")):
        if n >= size:
            head, rest = divmod(n, size)
            return number_to_words(head) + " " + name + ("" if rest == 0 else " " + number_to_words(rest))
    raise AssertionError


def normalize_text(text: str) -> str:
    """Lower-case, digits to words, punctuation dropped (apostrophes kept), whitespace collapsed.

    The one normalisation used for training targets, references and hypotheses alike.
    """
    text = text.lower().replace("’", "'")
    text = re.sub(r"\d+", lambda m: " " + number_to_words(int(m.group()[:12])) + " ", text)
    text = text.replace("-", " ")
    text = re.sub(r"[^a-z' ]+", " ", text)
    text = re.sub(r"(^|\s)'+|'+(\s|$)", " ", text)  # quotes, not apostrophes inside words
    return " ".join(text.split())


@dataclass(frozen=True)
class CharTokenizer:
    tokens: tuple[str, ...] = (BLANK, SPACE, *DEFAULT_CHARS)

    @property
    def blank_id(self) -> int:
        return 0

    @property
    def vocab_size(self) -> int:
        return len(self.tokens)

    @property
    def _index(self) -> dict[str, int]:
        return {t: i for i, t in enumerate(self.tokens)}

    def encode(self, text: str, *, source: str = "") -> list[int]:
        """Normalised text -> ids. Characters outside the vocabulary are dropped and logged, not fatal."""
        index = self._index
        # Letters normalisation cannot map (accents, other scripts) are reported, then dropped.
        unknown = {ch for ch in text.lower() if ch.isalpha() and ch not in index}
        ids = [index[SPACE] if ch == " " else index[ch] for ch in normalize_text(text) if ch == " " or ch in index]
        if unknown:
            log.warning("%sskipped characters outside the vocabulary: %s", f"{source}: " if source else "",
                        "".join(sorted(unknown)))
        return ids

    def decode(self, ids) -> str:
        words = "".join(self.tokens[i] for i in ids if i != self.blank_id).replace(SPACE, " ")
        return " ".join(words.split())

    def save(self, path: str | Path) -> None:
        atomic_write_text(path, "".join(f"{t} {i}\n" for i, t in enumerate(self.tokens)))

    @classmethod
    def load(cls, path: str | Path) -> "CharTokenizer":
        path = Path(path)
        if not path.is_file():
            raise EdgeSSLError(f"tokens file not found: {path}")
        tokens = []
        for n, line in enumerate(path.read_text().splitlines(), 1):
            parts = line.rsplit(" ", 1)
            if len(parts) != 2 or not parts[1].isdigit() or int(parts[1]) != len(tokens):
                raise EdgeSSLError(f"{path}:{n}: expected '<token> {len(tokens)}', got {line!r}")
            tokens.append(parts[0])
        if not tokens or tokens[0] != BLANK:
            raise EdgeSSLError(f"{path}: token 0 must be the blank {BLANK!r}")
        return cls(tuple(tokens))
