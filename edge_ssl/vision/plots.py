"""Pictures of what an image encoder learned: retrieval grids, a 2-D map of the features, MAE
reconstructions. Every PNG is written atomically."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from edge_ssl.atomic import atomic_path


def _figure():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def _save(fig, path: str | Path) -> None:
    plt = _figure()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    plt.close(fig)


def _show(ax, img: np.ndarray, title: str | None = None, color: str = "black") -> None:
    ax.imshow(img.squeeze(-1) if img.shape[-1] == 1 else img, cmap="gray" if img.shape[-1] == 1 else None,
              interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title, fontsize=7, color=color)


def retrieval_grid(queries: list[np.ndarray], query_titles: list[str], neighbours: list[list[np.ndarray]],
                   neighbour_titles: list[list[str]], path: str | Path,
                   correct: list[list[bool | None]] | None = None) -> None:
    """One row per query: the query image, then its nearest neighbours (titles: label / similarity).
    ``correct`` colours neighbour titles green/red when labels are known."""
    plt = _figure()
    rows, cols = len(queries), 1 + max(len(n) for n in neighbours)
    fig, axes = plt.subplots(rows, cols, figsize=(1.3 * cols, 1.45 * rows), squeeze=False)
    for r in range(rows):
        _show(axes[r, 0], queries[r], query_titles[r], "blue")
        for c in range(1, cols):
            ax = axes[r, c]
            if c - 1 < len(neighbours[r]):
                ok = correct[r][c - 1] if correct else None
                _show(ax, neighbours[r][c - 1], neighbour_titles[r][c - 1],
                      "black" if ok is None else ("green" if ok else "red"))
            else:
                ax.axis("off")
    fig.suptitle("query (left) and its nearest neighbours: #rank, label, cosine similarity", fontsize=9)
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.3 / rows))  # leave the suptitle its own line
    _save(fig, path)


def projection_plot(feats: torch.Tensor, labels: list[int], classes: list[str], path: str | Path,
                    method: str = "pca", title: str = "", seed: int = 0) -> None:
    """2-D PCA or t-SNE of L2-normalised features, coloured by label (unlabeled in grey)."""
    from sklearn.decomposition import PCA
    from sklearn.manifold import TSNE

    x = torch.nn.functional.normalize(feats.float(), dim=1).numpy()
    if method == "tsne":
        xy = TSNE(n_components=2, init="pca", perplexity=min(30.0, max(2.0, (len(x) - 1) / 3)),
                  random_state=seed).fit_transform(x)
    else:
        xy = PCA(n_components=2, random_state=seed).fit_transform(x)
    plt = _figure()
    fig, ax = plt.subplots(figsize=(5.5, 5))
    lab = np.asarray(labels)
    if (lab < 0).any():
        ax.scatter(xy[lab < 0, 0], xy[lab < 0, 1], s=4, c="lightgrey", label="unlabeled")
    cmap = plt.get_cmap("tab10" if len(classes) <= 10 else "tab20")
    for c, name in enumerate(classes):
        sel = lab == c
        if sel.any():
            ax.scatter(xy[sel, 0], xy[sel, 1], s=4, color=cmap(c % cmap.N), label=name or str(c))
    ax.legend(markerscale=3, fontsize=7, loc="best")
    ax.set_title(title or f"{method.upper()} of image features", fontsize=9)
    fig.tight_layout()
    _save(fig, path)


def reconstruction_grid(original: np.ndarray, mask: np.ndarray, recon: np.ndarray, path: str | Path) -> None:
    """Rows of original | masked | reconstruction | reconstruction with the visible patches pasted back.
    original, recon: (N, H, W, C) in [0, 1]; mask: (N, H, W, 1) bool, True where a patch was removed."""
    plt = _figure()
    n = len(original)
    grey = np.full_like(original, 0.5)
    grey[..., :1] = 0.65  # removed patches in a reddish grey, distinct from black or white backgrounds
    masked = np.where(mask, grey, original)
    pasted = np.where(mask, recon, original)
    fig, axes = plt.subplots(n, 4, figsize=(5.2, 1.35 * n), squeeze=False)
    for r in range(n):
        for c, (img, t) in enumerate(((original[r], "original"), (masked[r], "masked"),
                                      (recon[r], "reconstruction"), (pasted[r], "+ visible"))):
            _show(axes[r, c], img, t if r == 0 else None)
    fig.tight_layout()
    _save(fig, path)
