"""Frozen-feature evaluation: extract features for an image set, then k-NN (DINO) and a linear probe.

A feature extractor is any ``embed(images (B, C, S, S) normalised) -> (B, D)``: the eager ViT, an
exported artifact through a Runner (``edge_ssl.vision.embed``), or the raw pixels themselves (the baseline
every table carries: a learned feature that loses to it has learned nothing usable).

Two k-NN protocols are scored on the same features: DINO's (L2-normalised features) and the same vote on
features first standardised with the training set's per-dimension mean and variance, which is the
non-affine BatchNorm MAE puts before its linear probe (He et al. 2022, Sec. A.2). The linear probe always
sees standardised features.
"""
from __future__ import annotations

import logging
from typing import Callable

import numpy as np
import torch

from edge_ssl.models.vit import ViT
from edge_ssl.vision.builtin import ImageSet, load_digits
from edge_ssl.vision.images import center_view
from edge_ssl.vision.knn import knn_accuracy
from edge_ssl.vision.probe import linear_probe

log = logging.getLogger(__name__)

EmbedFn = Callable[[torch.Tensor], torch.Tensor]


def pixel_embed_fn() -> EmbedFn:
    """The raw-pixel baseline: the same normalised centre view an encoder sees, flattened. (B, C, S, S) -> (B, C*S*S)."""
    def embed(x: torch.Tensor) -> torch.Tensor:
        return x.flatten(1)
    return embed


def standardize(train_feats: torch.Tensor, *others: torch.Tensor, eps: float = 1e-6) -> list[torch.Tensor]:
    """Non-affine BatchNorm with the training features' statistics (MAE's probe: ``BatchNorm1d(affine=False,
    eps=1e-6)``): every (N, D) tensor -> (x - mean) / sqrt(var + eps), mean/var over ``train_feats``."""
    mean = train_feats.mean(dim=0)
    scale = (train_feats.var(dim=0, unbiased=False) + eps).rsqrt()
    return [(f - mean) * scale for f in (train_feats, *others)]


def vit_embed_fn(vit: ViT) -> EmbedFn:
    vit = vit.eval()

    @torch.no_grad()
    def embed(x: torch.Tensor) -> torch.Tensor:
        return vit.features(x)  # (B, D)
    return embed


def extract_features(embed: EmbedFn, images: ImageSet, size: int, batch_size: int = 256) -> torch.Tensor:
    """Centre views of every image at ``size`` px -> features (N, D)."""
    feats = []
    for start in range(0, len(images), batch_size):
        batch = torch.stack([center_view(a, size) for a in images.images[start:start + batch_size]])
        feats.append(embed(batch).float())  # (b, D)
    return torch.cat(feats)


def evaluate_features(train_feats: torch.Tensor, train_labels: list[int], test_feats: torch.Tensor,
                      test_labels: list[int], probe: bool = True, k: int = 20, temperature: float = 0.07
                      ) -> dict[str, float]:
    """k-NN top-1/top-5 on L2-normalised features (``knn_top1``/``knn_top5``) and on standardised ones
    (``knn_bn_top1``/``knn_bn_top5``), and the linear-probe accuracy, of labeled features; unlabeled (-1)
    items are left out."""
    tr = torch.tensor(train_labels)
    te = torch.tensor(test_labels)
    keep_tr, keep_te = tr >= 0, te >= 0
    scores = knn_accuracy(train_feats[keep_tr], tr[keep_tr], test_feats[keep_te], te[keep_te], k, temperature)
    g, t = standardize(train_feats[keep_tr], test_feats[keep_te])
    bn = knn_accuracy(g, tr[keep_tr], t, te[keep_te], k, temperature)
    scores.update({f"knn_bn_{key.split('_')[1]}": v for key, v in bn.items()})
    if probe:
        scores["linear_probe"] = linear_probe(train_feats[keep_tr].numpy(), tr[keep_tr].numpy(),
                                              test_feats[keep_te].numpy(), te[keep_te].numpy())
    return scores


@torch.no_grad()
def layer_scores(vit: ViT, gallery: ImageSet, test: ImageSet) -> list[dict]:
    """Which layer and which token make the best frozen feature (MAE's probe question): for every layer, the
    cls token and the mean of the patch tokens, scored by ``evaluate_features`` without the probe."""
    feats: dict[tuple[int, str], list[list[torch.Tensor]]] = {}
    for which, images in enumerate((gallery, test)):
        for start in range(0, len(images), 256):
            x = torch.stack([center_view(a, vit.cfg.image_size) for a in images.images[start:start + 256]])
            for layer, tokens in enumerate(vit.eval().hidden_states(x), 1):  # (b, 1 + L, D) each
                for pool, f in (("cls", tokens[:, 0]), ("mean", tokens[:, 1:].mean(dim=1))):
                    feats.setdefault((layer, pool), [[], []])[which].append(f)
    return [{"layer": layer, "pool": pool, **evaluate_features(torch.cat(g), gallery.labels, torch.cat(t),
                                                               test.labels, probe=False)}
            for (layer, pool), (g, t) in feats.items()]


def evaluate_digits(encoder: ViT | EmbedFn, channels: int = 3, probe: bool = True) -> dict[str, float]:
    """Features of the digits train split (4000) and the held-out split (1000) -> k-NN (and probe) scores."""
    embed = vit_embed_fn(encoder) if isinstance(encoder, ViT) else encoder
    size = encoder.cfg.image_size if isinstance(encoder, ViT) else None
    if size is None:
        raise ValueError("pass a ViT, or use evaluate_features with your own extractor")
    train, test = load_digits("train", channels), load_digits("test", channels)
    tr, te = extract_features(embed, train, size), extract_features(embed, test, size)
    return evaluate_features(tr, train.labels, te, test.labels, probe=probe)


def split_labeled(images: ImageSet, test_share: float = 0.2, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Deterministic stratified split of the labeled items -> (train indices, test indices)."""
    rng = np.random.default_rng(seed)
    labels = np.asarray(images.labels)
    train_idx, test_idx = [], []
    for c in sorted(set(labels[labels >= 0].tolist())):
        idx = rng.permutation(np.flatnonzero(labels == c))
        n_test = int(round(len(idx) * test_share))
        if len(idx) >= 2:
            n_test = min(max(n_test, 1), len(idx) - 1)
        else:
            n_test = 0
        test_idx += idx[:n_test].tolist()
        train_idx += idx[n_test:].tolist()
    return np.array(sorted(train_idx), dtype=np.int64), np.array(sorted(test_idx), dtype=np.int64)
