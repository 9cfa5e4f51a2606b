"""Word and character error rates (jiwer), on text normalised the way training targets are.

Corpus-level rates are total edits / total reference units (not a mean of per-utterance rates), as
every ASR paper reports them.
"""
from __future__ import annotations

from dataclasses import dataclass

import jiwer

from edge_ssl.asr.decode.tokenizer import normalize_text


@dataclass
class ErrorCounts:
    word_errors: int = 0        # substitutions + deletions + insertions, over words
    words: int = 0              # reference words
    char_errors: int = 0        # the same over characters (spaces included, as jiwer.cer counts them)
    chars: int = 0              # reference characters

    def __add__(self, other: "ErrorCounts") -> "ErrorCounts":
        return ErrorCounts(self.word_errors + other.word_errors, self.words + other.words,
                           self.char_errors + other.char_errors, self.chars + other.chars)

    @property
    def wer(self) -> float:
        return self.word_errors / max(1, self.words)

    @property
    def cer(self) -> float:
        return self.char_errors / max(1, self.chars)


def _edits(out) -> int:
    return out.substitutions + out.deletions + out.insertions


def error_counts(ref: str, hyp: str) -> ErrorCounts:
    """Edit counts of one hypothesis against its reference, both normalised first."""
    ref, hyp = normalize_text(ref), normalize_text(hyp)
    if not ref:  # jiwer refuses empty references: every hypothesis unit is an insertion
        return ErrorCounts(len(hyp.split()), 0, len(hyp), 0)
    words = jiwer.process_words(ref, hyp)
    chars = jiwer.process_characters(ref, hyp)
    return ErrorCounts(_edits(words), len(ref.split()), _edits(chars), len(ref))


def corpus_error_rates(refs: list[str], hyps: list[str]) -> ErrorCounts:
    total = ErrorCounts()
    for r, h in zip(refs, hyps, strict=True):
        total = total + error_counts(r, h)
    return total
