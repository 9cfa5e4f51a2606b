"""Word n-gram language model as an ARPA file: interpolated modified Kneser-Ney, as KenLM's ``lmplz`` estimates it.

Estimation (Chen & Goodman 1998; Heafield et al. 2013):

- Counts: each sentence is ``<s> w1 .. wn </s>``. The highest order keeps raw counts; a lower-order n-gram
  gets its *adjusted* count, the number of distinct words seen before it (continuation count), except one
  that starts with ``<s>`` (nothing can precede it), which keeps its raw count.
- Discounts: three per order, D1, D2, D3+ from the count-of-counts of adjusted counts. A small corpus can
  leave them undefined (no twos, say); then the order falls back to 0.5, 1, 1.5 (lmplz --discount_fallback).
- Interpolation: p(w|h) = (a(hw) - D(a(hw))) / a(h.) + gamma(h) p(w|h'), with gamma(h) the discounted mass
  of context h; unigrams interpolate with the uniform distribution over the vocabulary (with </s>, <unk>).
  Because the model is interpolated, the ARPA backoff weight of context h is exactly gamma(h).

Text is normalised with ``normalize_text``, the evaluator's normalisation, so LM words are scored words.
"""
from __future__ import annotations

import math
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from edge_ssl.asr.decode.tokenizer import normalize_text
from edge_ssl.errors import EdgeSSLError
from edge_ssl.atomic import atomic_path

BOS, EOS, UNK = "<s>", "</s>", "<unk>"
FALLBACK_DISCOUNTS = (0.5, 1.0, 1.5)
LOG10_ZERO = -99.0  # ARPA convention for probability 0 (<s> is never predicted)

Ngram = tuple[str, ...]


@dataclass(frozen=True)
class ArpaStats:
    sentences: int
    counts: tuple[int, ...]  # number of n-grams per order, unigrams first (with <s>, </s>, <unk>)


def _counts(sentences: Iterable[str], order: int) -> tuple[list[Counter], int]:
    """Adjusted counts per order (index 0 = unigrams) and the number of non-empty sentences."""
    raw: Counter = Counter()  # highest-order n-grams, plus shorter ones that start at <s>
    n_sent = 0
    for s in sentences:
        words = normalize_text(s).split()
        if not words:
            continue
        n_sent += 1
        toks = (BOS, *words, EOS)
        for i in range(len(toks)):
            # Only the n-grams no left word can extend: full order, or anchored at <s>.
            for n in range(1, order + 1):
                if i + n > len(toks):
                    break
                if n == order or i == 0:
                    raw[toks[i:i + n]] += 1
    adjusted = [Counter() for _ in range(order)]
    for g, c in raw.items():
        adjusted[len(g) - 1][g] = c
    # Continuation counts: each distinct n-gram adds one to its suffix's count, down the orders.
    for n in range(order, 1, -1):
        for g in adjusted[n - 1]:
            adjusted[n - 2][g[1:]] += 1  # g[1:] never starts with <s>, so it is never a raw count
    del adjusted[0][(BOS,)]  # <s> is a context, never predicted: it takes no part in the unigram estimate
    return adjusted, n_sent


def _discounts(counts: Counter) -> tuple[float, float, float]:
    """D1, D2, D3+ from count-of-counts; the lmplz fallback when the estimate is undefined or out of range."""
    t = Counter(min(c, 4) for c in counts.values())
    if min(t[1], t[2], t[3], t[4]) == 0:
        return FALLBACK_DISCOUNTS
    y = t[1] / (t[1] + 2 * t[2])
    d = tuple(k - (k + 1) * y * t[k + 1] / t[k] for k in (1, 2, 3))
    return d if all(0 < dk < k for dk, k in zip(d, (1, 2, 3))) else FALLBACK_DISCOUNTS


def estimate(sentences: Iterable[str], order: int = 3) -> tuple[list[dict[Ngram, tuple[float, float]]], int]:
    """Per order, n-gram -> (log10 p, log10 backoff) (backoff 0 at the highest order), and the sentence count."""
    if order < 2:  # KenLM loads bigram models and up
        raise EdgeSSLError(f"n-gram order must be >= 2, got {order}")
    adjusted, n_sent = _counts(sentences, order)
    if n_sent == 0:
        raise EdgeSSLError("no words to build a language model from (empty text after normalisation)")
    prob: list[dict[Ngram, float]] = [dict() for _ in range(order)]
    gamma: list[dict[Ngram, float]] = [dict() for _ in range(order)]  # context -> backoff mass
    vocab = {g[0] for g in adjusted[0]} | {EOS, UNK}  # what the model can predict (not <s>)
    for n in range(1, order + 1):
        d = _discounts(adjusted[n - 1])
        totals: dict[Ngram, float] = defaultdict(float)
        kinds: dict[Ngram, list[int]] = defaultdict(lambda: [0, 0, 0])  # context -> number with count 1, 2, 3+
        for g, c in adjusted[n - 1].items():
            totals[g[:-1]] += c
            kinds[g[:-1]][min(c, 3) - 1] += 1
        for h, total in totals.items():
            gamma[n - 1][h] = sum(dk * nk for dk, nk in zip(d, kinds[h])) / total
        for g, c in adjusted[n - 1].items():
            h = g[:-1]
            lower = prob[n - 2][g[1:]] if n > 1 else 1.0 / len(vocab)
            prob[n - 1][g] = (c - d[min(c, 3) - 1]) / totals[h] + gamma[n - 1][h] * lower
    prob[0][(UNK,)] = gamma[0][()] / len(vocab)  # unseen words share the uniform part
    prob[0][(BOS,)] = 0.0  # written as -99, with its backoff: the context every sentence starts from
    out = []
    for n in range(1, order + 1):
        nxt = gamma[n] if n < order else {}
        out.append({g: (math.log10(p) if p > 0 else LOG10_ZERO, math.log10(nxt[g]) if nxt.get(g) else 0.0)
                    for g, p in prob[n - 1].items()})
    return out, n_sent


def write_arpa(sentences: Iterable[str], path: str | Path, order: int = 3) -> ArpaStats:
    """Estimate an ``order``-gram model from ``sentences`` (raw text, one per item) and write it as ARPA."""
    grams, n_sent = estimate(sentences, order)
    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8") as f:
        f.write("\\data\\\n" + "".join(f"ngram {n}={len(g)}\n" for n, g in enumerate(grams, 1)))
        for n, table in enumerate(grams, 1):
            f.write(f"\n\\{n}-grams:\n")
            for g in sorted(table):
                lp, bo = table[g]
                f.write(f"{lp:.6f}\t{' '.join(g)}" + (f"\t{bo:.6f}\n" if n < order else "\n"))
        f.write("\n\\end\\\n")
    return ArpaStats(n_sent, tuple(len(g) for g in grams))


def read_arpa_words(path: str | Path) -> list[str]:
    """The words of an ARPA file's unigram section, without <s>, </s>, <unk> (the decoder's lexicon)."""
    path = Path(path)
    if not path.is_file():
        raise EdgeSSLError(f"language model not found: {path}")
    words, in_unigrams = [], False
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if line.startswith("\\"):
                if in_unigrams:
                    break
                in_unigrams = line == "\\1-grams:"
            elif in_unigrams and line:
                parts = line.split("\t") if "\t" in line else line.split()
                if len(parts) < 2:
                    raise EdgeSSLError(f"{path}: malformed unigram line {line!r}")
                if parts[1] not in (BOS, EOS, UNK):
                    words.append(parts[1])
    if not words:
        raise EdgeSSLError(f"{path}: no unigrams; not an ARPA language model")
    return words
