"""Medians, spreads and per-round ratios of interleaved timings, and the rule that refuses a noisy number.

A ratio between two rows is the median of the per-round ratios (both timed in the same round, under the
same load), never the ratio of the two medians: a load change between rounds then moves both sides of
each round's ratio together instead of only one row's median.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from edge_ssl.errors import EdgeSSLError

MAX_SPREAD = 0.2  # default: a median whose interquartile range exceeds 20% of it is "too noisy"


@dataclass
class Spread:
    median: float
    q1: float               # 25th percentile
    q3: float               # 75th percentile
    n: int                  # samples (rounds)
    spread: float           # (q3 - q1) / median
    too_noisy: bool         # spread > the threshold: the median is not reported

    def as_dict(self) -> dict:
        return asdict(self)


def summarize(samples, max_spread: float = MAX_SPREAD) -> Spread:
    """Median and interquartile spread of ``samples`` (one value per round)."""
    x = np.asarray(samples, dtype=float)
    if x.ndim != 1 or len(x) == 0:
        raise EdgeSSLError(f"need a non-empty list of samples, got shape {x.shape}")
    q1, med, q3 = (float(v) for v in np.percentile(x, [25, 50, 75]))
    spread = (q3 - q1) / med if med > 0 else float("inf")
    return Spread(med, q1, q3, len(x), spread, spread > max_spread)


def round_ratios(num, den, scale: float = 1.0) -> np.ndarray:
    """``scale * num[i] / den[i]`` for each round i."""
    num, den = np.asarray(num, dtype=float), np.asarray(den, dtype=float)
    if num.shape != den.shape:
        raise EdgeSSLError(f"per-round ratio needs one sample per round on both sides, got {num.shape} and {den.shape}")
    return scale * num / den


def ratio(num, den, max_spread: float = MAX_SPREAD, scale: float = 1.0) -> Spread:
    """Median (and spread) of the per-round ratios ``scale * num / den``."""
    return summarize(round_ratios(num, den, scale), max_spread)
