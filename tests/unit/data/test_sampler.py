import numpy as np
import pytest

from edge_ssl.data.sampler import BucketBatchSampler


def lengths(n=200, seed=0):
    return np.random.default_rng(seed).integers(4000, 80000, n).tolist()


def test_budget_respected_and_every_index_once_per_epoch():
    lens = lengths()
    s = BucketBatchSampler(lens, max_batch_samples=240_000, max_batch_size=8, seed=1)
    for epoch in range(2):
        s.set_epoch(epoch)
        batches = list(s)
        assert len(batches) == len(s)
        assert sorted(i for b in batches for i in b) == list(range(len(lens)))
        for b in batches:
            assert len(b) <= 8 and len(b) * max(lens[i] for i in b) <= 240_000
    s.set_epoch(0)
    e0 = list(s)
    s.set_epoch(1)
    assert list(s) != e0 and sorted(map(tuple, list(s))) == sorted(map(tuple, e0))  # same buckets, new order


def test_batches_group_similar_lengths():
    lens = lengths(400)
    spread = [max(lens[i] for i in b) / min(lens[i] for i in b) for b in BucketBatchSampler(lens, 300_000)]
    assert np.median(spread) < 1.1


def test_item_over_budget_goes_alone():
    s = BucketBatchSampler([100, 100, 5000], max_batch_samples=1000, shuffle=False)
    assert sorted(map(sorted, s)) == [[0, 1], [2]]


@pytest.mark.parametrize("drop_last", [False, True])
def test_replicas_get_equal_batch_counts(drop_last):
    lens = lengths(101, seed=3)
    ranks = [BucketBatchSampler(lens, 200_000, seed=5, num_replicas=2, rank=r, drop_last=drop_last) for r in range(2)]
    n_total = len(BucketBatchSampler(lens, 200_000, num_replicas=1))
    assert n_total % 2 == 1  # the case that needs padding
    per_rank = [list(s) for s in ranks]
    assert len(per_rank[0]) == len(per_rank[1]) == len(ranks[0])
    seen = [i for batches in per_rank for b in batches for i in b]
    if drop_last:
        assert len(set(seen)) == len(seen)
    else:
        assert set(seen) == set(range(len(lens)))  # wrap-around padding covers everything


def test_resume_mid_epoch_yields_identical_remaining_batches():
    lens = lengths(150, seed=7)
    a = BucketBatchSampler(lens, 200_000, seed=11, num_replicas=2, rank=1)
    a.set_epoch(3)
    it = iter(a)
    head = [next(it) for _ in range(5)]
    state = a.state_dict()
    assert state == {"epoch": 3, "position": 5}
    rest = list(it)

    b = BucketBatchSampler(lens, 200_000, seed=11, num_replicas=2, rank=1)
    b.load_state_dict(state)
    b.set_epoch(3)  # a training loop calls this again on resume; it must not rewind
    assert list(b) == rest
    b.set_epoch(4)
    assert len(list(b)) == len(b)  # the next epoch is whole again
    c = BucketBatchSampler(lens, 200_000, seed=11, num_replicas=2, rank=1)
    c.set_epoch(3)
    assert list(c) == head + rest


def test_consumed_overrides_prefetch_position():
    s = BucketBatchSampler(lengths(50), 200_000)
    it = iter(s)
    for _ in range(4):
        next(it)  # a DataLoader prefetched 4 ...
    assert s.state_dict(consumed=2) == {"epoch": 0, "position": 2}  # ... but training finished 2


def test_bad_arguments():
    with pytest.raises(ValueError, match="rank"):
        BucketBatchSampler([10], 100, num_replicas=2, rank=2)
    with pytest.raises(ValueError, match="at least one"):
        BucketBatchSampler([], 100)
    with pytest.raises(ValueError, match="position"):
        BucketBatchSampler([10, 20], 100).load_state_dict({"epoch": 0, "position": 9})
