"""Run a block on one CPU thread (torch intra-op, and the OpenMP/BLAS pools scikit-learn uses).

Per-utterance feature extraction and k-means work on small arrays: a second thread there buys little on an
idle machine, and on a shared one a parallel region waits at every barrier for its descheduled partner.
Measured on the 2-core machine while another job ran (layer-3 features of the tiny HuBERT, 220 s of audio):
1.7 CPU-s on one thread against 56 CPU-s on two. The previous thread settings come back on exit.
"""
from __future__ import annotations

import contextlib
from typing import Iterator

import torch


@contextlib.contextmanager
def one_thread() -> Iterator[None]:
    from threadpoolctl import threadpool_limits  # scikit-learn's dependency: limits OpenMP and BLAS pools

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with threadpool_limits(limits=1):
            yield
    finally:
        torch.set_num_threads(before)
