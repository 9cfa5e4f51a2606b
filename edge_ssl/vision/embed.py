"""The image-feature demo behind ``edge-ssl embed`` and ``apps/image_features.py``.

Embed a folder of images (or the held-out digits, or another builtin set) with an encoder -- a model file
(``.safetensors``) or an exported artifact (``.pte``/``.onnx``) -- then: nearest-neighbour retrieval grids,
k-NN accuracy (DINO: k=20, T=0.07; on L2-normalised and on standardised features) and a linear probe on the
labels, a 2-D map of the features, and MAE reconstructions. Every table, grid and map carries the raw
pixels as a baseline (same protocol); ``baseline="random"`` adds the same architecture randomly initialised.
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from edge_ssl.errors import EdgeSSLError
from edge_ssl.atomic import atomic_write_text
from edge_ssl.methods.mae import MaskedAutoencoder
from edge_ssl.models.vit import ViT, ViTConfig
from edge_ssl.vision.builtin import ImageSet, load_digits, load_labeled_set
from edge_ssl.vision.evaluate import (EmbedFn, evaluate_features, extract_features, pixel_embed_fn, split_labeled,
                                      standardize, vit_embed_fn)
from edge_ssl.vision.images import center_view, denormalize, load_image
from edge_ssl.vision.knn import nearest
from edge_ssl.vision.patches import patchify, unpatchify
from edge_ssl.vision import plots

if TYPE_CHECKING:
    from edge_ssl.runtime.meta import ArtifactMeta

log = logging.getLogger(__name__)


@dataclass
class Encoder:
    """An image encoder however it is stored: ``embed`` maps normalised (B, C, S, S) to (B, D)."""
    embed: EmbedFn
    image_size: int
    channels: int
    config: ViTConfig | None = None       # known for model files (needed for a random baseline)
    mae: MaskedAutoencoder | None = None  # present for MAE files: reconstructions


def artifact_embedder(path: Path) -> tuple[EmbedFn, "ArtifactMeta"]:
    """An exported image encoder (batch 1) through its Runner, as a batched embed function. One thread: one
    small image per call leaves a second thread mostly waiting (the demo's ViT on 2 shared cores: 1.7 ms
    per image on one thread, 4.7 ms on the runtime's default two)."""
    from edge_ssl.runtime import open_runner

    runner = open_runner(path, threads=1)
    if not runner.meta.is_image:
        raise EdgeSSLError(f"{path}: a {runner.meta.task} artifact, not an image encoder (export a vit/mae model)")

    def embed(x: torch.Tensor) -> torch.Tensor:  # (B, C, S, S) -> (B, D), one image at a time
        return torch.stack([torch.from_numpy(runner.run(x[i].numpy())) for i in range(x.shape[0])])
    return embed, runner.meta


def open_encoder(path: str | Path) -> Encoder:
    """A model file (eager: the ViT itself, batched, plus its config and MAE) or an exported artifact."""
    path = Path(path)
    if not path.is_file():
        raise EdgeSSLError(f"model not found: {path}")
    if path.suffix in (".pte", ".onnx"):
        embed, meta = artifact_embedder(path)
        return Encoder(embed, meta.image_size, meta.in_chans)
    from edge_ssl.vision.model_io import load_vision_model

    vit, mae, _ = load_vision_model(path)
    return Encoder(vit_embed_fn(vit), vit.cfg.image_size, vit.cfg.in_chans, vit.cfg, mae)


def random_encoder(cfg: ViTConfig, seed: int = 0) -> Encoder:
    torch.manual_seed(seed)
    return Encoder(vit_embed_fn(ViT(cfg)), cfg.image_size, cfg.in_chans, cfg)


def display(arr: np.ndarray) -> np.ndarray:
    """uint8 (H, W, C) -> float [0, 1] for plotting."""
    return arr.astype(np.float32) / 255.0


@torch.no_grad()
def reconstructions(mae: MaskedAutoencoder, images: list[np.ndarray], seed: int = 0
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(original, removed-pixel mask, reconstruction) as (N, H, W, C) arrays in [0, 1] for the picture.

    With norm_pix_loss the model predicts normalised patches; they are shown with each patch's true mean
    and std (the usual way to look at such a model: the shape is predicted, the brightness is borrowed)."""
    cfg = mae.cfg.encoder
    x = torch.stack([center_view(a, cfg.image_size) for a in images])  # (N, C, S, S)
    torch.manual_seed(seed)
    _, pred, mask = mae.reconstruct(x)  # pred (N, L, P), mask (N, L) 1 = removed
    target = patchify(x, cfg.patch_size)
    if mae.cfg.norm_pix_loss:
        mean, var = target.mean(-1, keepdim=True), target.var(-1, keepdim=True)
        pred = pred * (var + 1e-6) ** 0.5 + mean
    recon = unpatchify(pred, cfg.patch_size, cfg.in_chans)
    pix_mask = unpatchify(mask[..., None].expand(-1, -1, target.shape[-1]), cfg.patch_size, cfg.in_chans)
    to_np = lambda t: denormalize(t).permute(0, 2, 3, 1).numpy()  # noqa: E731
    return to_np(x), pix_mask[:, :1].permute(0, 2, 3, 1).numpy() > 0.5, to_np(recon)


def _retrieval(encoders: dict[str, Encoder], gallery: ImageSet, gallery_feats: dict[str, torch.Tensor],
               queries: list[np.ndarray], query_titles: list[str], query_labels: list[int], k: int, path: Path) -> None:
    """One row per (query, encoder): the k nearest gallery images by cosine similarity of standardised
    features (the k-NN's BN protocol, which spreads similarities that raw L2 features crowd near 1).
    Neighbour titles: rank, label, similarity to 3 decimals."""
    cls = gallery.classes
    name = lambda lab: (cls[lab] if 0 <= lab < len(cls) and cls[lab] else str(lab)) if lab >= 0 else "?"  # noqa: E731
    rows: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}
    for enc_name, enc in encoders.items():
        q = enc.embed(torch.stack([center_view(a, enc.image_size) for a in queries])).float()  # (M, D)
        g, q = standardize(gallery_feats[enc_name], q)
        rows[enc_name] = nearest(g, q, k)  # (M, k) similarities, (M, k) indices
    imgs, titles, neighbours, labels, correct = [], [], [], [], []
    for i, (img, title, ql) in enumerate(zip(queries, query_titles, query_labels)):
        for enc_name, (sims, idx) in rows.items():
            imgs.append(display(img))
            titles.append(f"{title} | {enc_name}"[:24])
            row, srow = idx[i].tolist(), sims[i].tolist()
            neighbours.append([display(gallery.images[j]) for j in row])
            labels.append([f"#{r + 1} {name(gallery.labels[j])} {s:.3f}" for r, (j, s) in enumerate(zip(row, srow))])
            correct.append([(gallery.labels[j] == ql) if ql >= 0 else None for j in row])
    plots.retrieval_grid(imgs, titles, neighbours, labels, path, correct)


def _load_queries(paths: list[str], channels: int) -> tuple[list[np.ndarray], list[str]]:
    images, titles = [], []
    for p in paths:
        images.append(load_image(p, channels))  # a bad query is the user's explicit input: an error
        titles.append(Path(p).name[:14])
    return images, titles


def run_embed(model: str | Path, out_dir: str | Path, images: str | Path | None = None,
              queries: list[str] = (), k: int = 8, baseline: str | None = None, projection: str = "pca",
              probe: bool = True, num_queries: int = 6, seed: int = 0, layers: bool = False) -> dict:
    """The demo. Returns the results (also ``out_dir/results.json`` and ``out_dir/table.md``); ``layers``
    adds the k-NN of every layer's cls and mean-pooled tokens (``layers.md``; model files only)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    enc = open_encoder(model)
    problems: list[str] = []
    if images is None or str(images) == "builtin:digits":  # gallery = training split, held-out split scored
        gallery, test = load_digits("train", enc.channels), load_digits("test", enc.channels)
        source = "builtin digits (train 4000 / held-out 1000)"
    else:
        if str(images).startswith("builtin:"):
            allimg = load_labeled_set(str(images).split(":", 1)[1], enc.channels)
        else:
            from edge_ssl.vision.folder import load_image_folder

            allimg, problems = load_image_folder(images, enc.channels, max_side=2 * enc.image_size)
        tr, te = split_labeled(allimg, 0.2, seed)
        unlabeled = [i for i, lab in enumerate(allimg.labels) if lab < 0]
        pick = lambda ix: ImageSet([allimg.images[i] for i in ix], [allimg.labels[i] for i in ix],  # noqa: E731
                                   [allimg.names[i] for i in ix], allimg.classes)
        gallery = allimg if len(te) == 0 else pick(sorted(tr.tolist() + unlabeled))
        test = pick(te.tolist())
        source = f"{images} ({len(allimg)} images, {len(allimg.classes)} classes, {len(problems)} unreadable)"
    log.info("embedding %s", source)

    # the model, the raw pixels it sees (the baseline of every table and picture), optionally random init
    encoders = {"model": enc, "raw pixels": Encoder(pixel_embed_fn(), enc.image_size, enc.channels)}
    if baseline == "random":
        if enc.config is None:
            raise EdgeSSLError("--baseline random needs a model file (.safetensors), not an exported artifact")
        encoders["random init"] = random_encoder(enc.config, seed)
    elif baseline:
        raise EdgeSSLError(f"unknown baseline {baseline!r} (only 'random')")

    results: dict = {"model": str(model), "data": source, "image_size": enc.image_size, "unreadable": problems,
                     "scores": {}}
    gallery_feats, test_feats = {}, {}
    for name, e in encoders.items():
        gallery_feats[name] = extract_features(e.embed, gallery, e.image_size)  # (N, D)
        test_feats[name] = extract_features(e.embed, test, e.image_size) if len(test) else None  # (M, D)
        if test_feats[name] is not None and len(set(gallery.labels) - {-1}) >= 2:
            results["scores"][name] = evaluate_features(gallery_feats[name], gallery.labels, test_feats[name],
                                                        test.labels, probe=probe)
    # pictures: the model beside the raw pixels
    shown = {name: encoders[name] for name in ("model", "raw pixels")}
    if queries:
        q_imgs, q_titles = _load_queries(list(queries), enc.channels)
        q_labels = [-1] * len(q_imgs)
    else:
        src = test if len(test) else gallery
        pick = _one_per_class(src, num_queries, seed)
        q_imgs = [src.images[i] for i in pick]
        q_labels = [src.labels[i] for i in pick]
        q_titles = [f"query {src.classes[lab] if 0 <= lab < len(src.classes) else '?'}" for lab in q_labels]
    _retrieval(shown, gallery, gallery_feats, q_imgs, q_titles, q_labels, k, out / "retrieval.png")
    on = test if len(test) else gallery
    for name in shown:
        feats = test_feats[name] if len(test) else gallery_feats[name]
        suffix = "" if name == "model" else "_pixels"
        what = Path(str(model)).name if name == "model" else "raw pixel"
        plots.projection_plot(feats, on.labels, on.classes, out / f"{projection}{suffix}.png", projection,
                              title=f"{projection.upper()} of {what} features")
    if layers:
        from edge_ssl.vision.evaluate import layer_scores
        from edge_ssl.vision.model_io import load_vision_model

        if enc.config is None:
            raise EdgeSSLError("--layers needs a model file (.safetensors), not an exported artifact")
        results["layers"] = layer_scores(load_vision_model(model)[0], gallery, test)
        atomic_write_text(out / "layers.md", layer_table(results["layers"]))
    if enc.mae is not None:
        src = test if len(test) else gallery
        orig, mask, recon = reconstructions(enc.mae, [src.images[i] for i in _one_per_class(src, 8, seed)], seed)
        plots.reconstruction_grid(orig, mask, recon, out / "reconstructions.png")
    atomic_write_text(out / "results.json", json.dumps(results, indent=2) + "\n")
    atomic_write_text(out / "table.md", score_table(results["scores"]))
    return results


def _one_per_class(images: ImageSet, n: int, seed: int) -> list[int]:
    """Up to ``n`` item indices, cycling over classes so the pictures show variety (deterministic)."""
    rng = np.random.default_rng(seed)
    labels = np.asarray(images.labels)
    by_class = [rng.permutation(np.flatnonzero(labels == c)).tolist() for c in sorted(set(labels.tolist()))]
    out: list[int] = []
    while len(out) < min(n, len(labels)):
        for idx in by_class:
            if idx and len(out) < n:
                out.append(idx.pop())
    return out


def layer_table(rows: list[dict]) -> str:
    """Markdown: layer | token | k-NN top-1 on L2-normalised features | on standardised (BN) features."""
    lines = ["| layer | token | k-NN top-1 | k-NN top-1, BN features |", "|---|---|---|---|"]
    lines += [f"| {r['layer']} | {r['pool']} | {100 * r['knn_top1']:.1f}% | {100 * r['knn_bn_top1']:.1f}% |" for r in rows]
    return "\n".join(lines) + "\n"


def score_table(scores: dict[str, dict[str, float]]) -> str:
    """A markdown table: encoder | k-NN top-1/top-5 on L2-normalised features | the same on standardised
    (BN) features | linear probe."""
    if not scores:
        return "no labeled held-out images: nothing to score\n"
    lines = ["| encoder | k-NN top-1 (k=20, T=0.07) | k-NN top-5 | k-NN top-1, BN features | k-NN top-5, BN | "
             "linear probe |", "|---|---|---|---|---|---|"]
    fmt = lambda v: f"{100 * v:.1f}%" if v is not None else "-"  # noqa: E731
    for name, s in scores.items():
        cells = [fmt(s.get(k)) for k in ("knn_top1", "knn_top5", "knn_bn_top1", "knn_bn_top5", "linear_probe")]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
