import numpy as np
import torch

from edge_ssl.vision.knn import knn_accuracy, knn_predict, nearest
from edge_ssl.vision.probe import linear_probe


def test_weighted_vote_prefers_closer_neighbours():
    train = torch.tensor([[1.0, 0.0], [0.8, 0.6], [0.6, 0.8]])
    labels = torch.tensor([0, 1, 1])
    test = torch.tensor([[0.99, 0.14]])
    # k=3: one very close class-0 neighbour outweighs two farther class-1 ones at T=0.07...
    scores = knn_predict(train, labels, test, 2, k=3, temperature=0.07)
    assert scores.argmax(1).item() == 0
    # ...while a flat vote (high temperature) is a plain majority
    assert knn_predict(train, labels, test, 2, k=3, temperature=100.0).argmax(1).item() == 1


def test_knn_accuracy_on_clusters_and_scale_invariance():
    g = torch.Generator().manual_seed(0)
    centers = torch.randn(5, 16, generator=g) * 5
    def sample(n):
        y = torch.arange(5).repeat_interleave(n)
        return centers[y] + torch.randn(len(y), 16, generator=g), y
    tr, ytr = sample(30)
    te, yte = sample(10)
    acc = knn_accuracy(tr * 10, ytr, te, yte)  # cosine: the scale of the features does not matter
    assert acc["knn_top1"] == 1.0 and "knn_top5" not in acc
    shuffled = knn_accuracy(tr, ytr[torch.randperm(len(ytr), generator=g)], te, yte)
    assert shuffled["knn_top1"] < 0.5


def test_nearest_and_linear_probe():
    gallery = torch.eye(4)
    sims, idx = nearest(gallery, torch.tensor([[0.0, 2.0, 0.1, 0.0]]), 2)
    assert idx[0].tolist() == [1, 2]
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 5))
    y = (x[:, 0] + x[:, 1] > 0).astype(int)
    assert linear_probe(x[:150], y[:150], x[150:], y[150:]) > 0.9
