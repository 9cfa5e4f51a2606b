"""Duration-bucketed batches under a total-samples budget, sharded evenly across DDP ranks, resumable.

Items are sorted by length and cut into batches whose padded size (batch size x longest item) stays
within ``max_batch_samples``, so short utterances travel in big batches and long ones in small batches
(fairseq's ``max_tokens``). Each epoch shuffles the batch order with ``seed + epoch``. Every rank gets the
same number of batches (DDP hangs otherwise): the list is padded by wrapping around, or cut with
``drop_last``. ``state_dict`` holds the epoch and the position inside it, so a resumed run continues
mid-epoch with exactly the remaining batches.
"""
from __future__ import annotations

import logging
import math
from typing import Iterator, Sequence

import numpy as np
import torch.distributed as dist
from torch.utils.data import Sampler

log = logging.getLogger(__name__)


def _world() -> tuple[int, int]:
    """(world size, rank) of the initialised process group, else (1, 0)."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_world_size(), dist.get_rank()
    return 1, 0


class BucketBatchSampler(Sampler[list[int]]):
    def __init__(self, lengths: Sequence[int], max_batch_samples: int, max_batch_size: int | None = None,
                 shuffle: bool = True, seed: int = 0, num_replicas: int | None = None, rank: int | None = None,
                 drop_last: bool = False):
        world, world_rank = _world()
        self.num_replicas = world if num_replicas is None else num_replicas
        self.rank = world_rank if rank is None else rank
        if not 0 <= self.rank < self.num_replicas:
            raise ValueError(f"rank {self.rank} out of range for {self.num_replicas} replicas")
        if max_batch_samples <= 0:
            raise ValueError(f"max_batch_samples must be positive, got {max_batch_samples}")
        if len(lengths) == 0:
            raise ValueError("BucketBatchSampler needs at least one item")
        self.shuffle, self.seed, self.drop_last = shuffle, seed, drop_last
        self.epoch = 0
        self.position = 0  # batches of the current epoch already handed out on this rank
        self.batches = self._cut(np.asarray(lengths, dtype=np.int64), max_batch_samples, max_batch_size)
        n = len(self.batches)
        self.num_batches = n // self.num_replicas if drop_last else math.ceil(n / self.num_replicas)
        if self.num_batches == 0:
            raise ValueError(f"{n} batches cannot give every one of {self.num_replicas} replicas a batch "
                             f"with drop_last=True")

    @staticmethod
    def _cut(lengths: np.ndarray, budget: int, max_size: int | None) -> list[list[int]]:
        order = np.argsort(lengths, kind="stable")  # shortest first; ties keep index order
        batches: list[list[int]] = []
        current: list[int] = []
        for i in order.tolist():
            # sorted ascending, so the newest item is the longest: padded size = count * its length
            if current and ((len(current) + 1) * lengths[i] > budget or (max_size and len(current) >= max_size)):
                batches.append(current)
                current = []
            current.append(i)
        batches.append(current)
        too_long = int((lengths > budget).sum())
        if too_long:
            log.warning("%d item(s) longer than max_batch_samples=%d go alone in a batch; crop them "
                        "(max_samples) to stay within the budget", too_long, budget)
        return batches

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch's batch order; starts it from the beginning unless a resumed state says otherwise."""
        if epoch != self.epoch:
            self.position = 0
        self.epoch = epoch

    def epoch_batches(self) -> list[list[int]]:
        """This rank's batches for the current epoch, in order."""
        order = list(range(len(self.batches)))
        if self.shuffle:
            order = np.random.default_rng(self.seed + self.epoch).permutation(len(order)).tolist()
        total = self.num_batches * self.num_replicas
        order = (order * math.ceil(total / len(order)))[:total]  # wrap around (or cut) to divide evenly
        return [self.batches[b] for b in order[self.rank::self.num_replicas]]

    def __iter__(self) -> Iterator[list[int]]:
        batches = self.epoch_batches()
        while self.position < len(batches):
            batch = batches[self.position]
            self.position += 1
            yield batch
        self.position = 0

    def __len__(self) -> int:
        return self.num_batches

    def state_dict(self, consumed: int | None = None) -> dict[str, int]:
        """Epoch and position. With a prefetching DataLoader the sampler runs ahead of training, so pass
        ``consumed`` (batches the training loop has finished this epoch) to record that instead."""
        return {"epoch": self.epoch, "position": self.position if consumed is None else consumed}

    def load_state_dict(self, state: dict[str, int]) -> None:
        position = int(state["position"])
        if not 0 <= position <= self.num_batches:
            raise ValueError(f"sampler state position {position} outside 0..{self.num_batches}")
        self.epoch, self.position = int(state["epoch"]), position
