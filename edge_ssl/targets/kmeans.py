"""k-means for HuBERT targets (fairseq ``simple_kmeans``) and how well clusters match characters.

Fitting uses scikit-learn's MiniBatchKMeans with fairseq's settings (k-means++ init, batch 10,000,
n_init 20, no reassignment) on a random sample of utterances; assignment is nearest centroid. The
centroids are saved as safetensors (no pickle).

Purity (HuBERT paper, Sec. IV-G), from the joint counts of (character y, cluster z) over frames:
``char_purity`` = E_z[max_y p(y|z)] (how pure each cluster is), ``cluster_purity`` = E_y[max_z p(z|y)],
``pnmi`` = I(y; z) / H(y).
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from edge_ssl.errors import EdgeSSLError
from edge_ssl.atomic import atomic_path

log = logging.getLogger(__name__)


def sample_utterances(num: int, fraction: float, seed: int) -> np.ndarray:
    """Sorted indices of ``ceil(fraction * num)`` utterances (at least 1) for fitting."""
    k = max(1, int(np.ceil(fraction * num)))
    return np.sort(np.random.default_rng(seed).choice(num, size=min(k, num), replace=False))


def fit_kmeans(feats: Sequence[np.ndarray], num_clusters: int, seed: int = 0, batch_size: int = 10_000,
               n_init: int = 20, max_iter: int = 100) -> np.ndarray:
    """feats: per-utterance (T_i, D) arrays -> centroids (num_clusters, D) float32."""
    from sklearn.cluster import MiniBatchKMeans

    x = np.concatenate(feats).astype(np.float32)                        # (N, D)
    if len(x) < num_clusters:
        raise EdgeSSLError(f"{len(x)} frames cannot fit {num_clusters} clusters: sample more (fit fraction)")
    km = MiniBatchKMeans(n_clusters=num_clusters, init="k-means++", max_iter=max_iter, batch_size=batch_size,
                         tol=0.0, max_no_improvement=100, n_init=n_init, reassignment_ratio=0.0,
                         compute_labels=False, random_state=seed)
    km.fit(x)
    log.info("k-means: %d clusters on %d frames, inertia/frame %.3f", num_clusters, len(x),
             -km.score(x) / len(x))
    return km.cluster_centers_.astype(np.float32)


def assign(feats: np.ndarray, centroids: np.ndarray) -> np.ndarray:
    """(T, D) -> (T,) nearest-centroid ids."""
    x = torch.from_numpy(np.ascontiguousarray(feats, dtype=np.float32))
    c = torch.from_numpy(centroids)
    d = (x * x).sum(1, keepdim=True) - 2 * x @ c.t() + (c * c).sum(1)[None, :]   # (T, K) squared distances
    return d.argmin(dim=1).numpy().astype(np.int64)


def save_centroids(path: str | Path, centroids: np.ndarray, meta: dict[str, str]) -> None:
    with atomic_path(path) as tmp:
        save_file({"centroids": torch.from_numpy(centroids)}, str(tmp), metadata=meta)


def load_centroids(path: str | Path) -> np.ndarray:
    try:
        return load_file(str(path))["centroids"].numpy()
    except Exception as e:  # safetensors raises several types for a bad file
        raise EdgeSSLError(f"{path}: cannot read k-means centroids ({e})") from None


def purity(chars: np.ndarray, clusters: np.ndarray) -> dict[str, float]:
    """chars, clusters: (N,) ints, one per frame -> {"char_purity", "cluster_purity", "pnmi"}."""
    if len(chars) != len(clusters) or len(chars) == 0:
        raise ValueError(f"need equal, non-zero lengths, got {len(chars)} and {len(clusters)}")
    _, y = np.unique(chars, return_inverse=True)
    _, z = np.unique(clusters, return_inverse=True)
    joint = np.zeros((y.max() + 1, z.max() + 1))
    np.add.at(joint, (y, z), 1.0)
    joint /= joint.sum()                                              # p(y, z)
    py, pz = joint.sum(1), joint.sum(0)
    nz = joint > 0
    mi = (joint[nz] * np.log(joint[nz] / (py[:, None] * pz[None, :])[nz])).sum()
    hy = -(py * np.log(py)).sum()
    return {"char_purity": float(joint.max(axis=0).sum()),          # sum_z p(z) max_y p(y|z)
            "cluster_purity": float(joint.max(axis=1).sum()),       # sum_y p(y) max_z p(z|y)
            "pnmi": float(mi / hy) if hy > 0 else 0.0}
