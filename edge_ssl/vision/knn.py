"""Weighted k-NN classification of features, as DINO evaluates self-supervised encoders
(Caron et al. 2021, ``eval_knn.py``): cosine similarity of L2-normalised features, the k nearest training
features vote for their class with weight ``exp(similarity / T)``; k = 20, T = 0.07."""
from __future__ import annotations

import torch
import torch.nn.functional as F


def knn_predict(train_feats: torch.Tensor, train_labels: torch.Tensor, test_feats: torch.Tensor,
                num_classes: int, k: int = 20, temperature: float = 0.07, chunk: int = 1024) -> torch.Tensor:
    """train_feats (N, D), train_labels (N,) in [0, num_classes), test_feats (M, D) -> class scores (M, num_classes)."""
    if len(train_feats) == 0:
        raise ValueError("k-NN needs at least one training feature")
    train = F.normalize(train_feats.float(), dim=1)
    test = F.normalize(test_feats.float(), dim=1)
    k = min(k, len(train))
    scores = []
    for start in range(0, len(test), chunk):
        sim = test[start:start + chunk] @ train.T  # (m, N) cosine similarities
        top_sim, top_idx = sim.topk(k, dim=1)  # (m, k)
        weights = (top_sim / temperature).exp()
        votes = F.one_hot(train_labels[top_idx], num_classes).float()  # (m, k, num_classes)
        scores.append((votes * weights.unsqueeze(-1)).sum(dim=1))
    return torch.cat(scores)


def knn_accuracy(train_feats: torch.Tensor, train_labels: torch.Tensor, test_feats: torch.Tensor,
                 test_labels: torch.Tensor, k: int = 20, temperature: float = 0.07) -> dict[str, float]:
    """Top-1 (and top-5 when there are more than 5 classes) accuracy of the weighted k-NN vote."""
    num_classes = int(max(train_labels.max(), test_labels.max())) + 1
    scores = knn_predict(train_feats, train_labels, test_feats, num_classes, k, temperature)
    ranked = scores.argsort(dim=1, descending=True)
    out = {"knn_top1": float((ranked[:, 0] == test_labels).float().mean())}
    if num_classes > 5:
        out["knn_top5"] = float((ranked[:, :5] == test_labels[:, None]).any(dim=1).float().mean())
    return out


def nearest(gallery: torch.Tensor, queries: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Cosine retrieval: (similarities (M, k), indices (M, k)) of each query's k nearest gallery features."""
    sim = F.normalize(queries.float(), dim=1) @ F.normalize(gallery.float(), dim=1).T
    return sim.topk(min(k, len(gallery)), dim=1)
