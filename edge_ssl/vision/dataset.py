"""Image datasets for training and feature extraction, and the data section of the MAE and SimCLR recipes.

Training views are seeded per (seed, epoch, item[, view]), so a resumed run and any number of DataLoader
workers see exactly the same crops. Batches come from the shared ``BucketBatchSampler`` (all items
"length 1", so it cuts fixed-size batches, shards them over ranks and resumes mid-epoch); the item order
is shuffled once at build time so that a batch mixes classes and sources.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from edge_ssl.errors import EdgeSSLError
from edge_ssl.vision.builtin import ImageSet, load_digits, photo_crops
from edge_ssl.vision.images import center_view, random_resized_view

log = logging.getLogger(__name__)


@dataclass
class ImageDataConfig:
    source: str = "builtin"      # "builtin" (digits train split + photo crops), an image folder, or a manifest (.jsonl)
    image_size: int = 224        # side of the square model input
    channels: int = 3            # gray images are replicated to 3 channels (one model for digits and photos)
    photo_crops: int = 0         # builtin only: how many scikit-image photo crops join the digits
    batch_size: int = 64         # images per batch per process (effective batch = x grad_accum x world)
    min_scale: float = 0.2       # RandomResizedCrop area scale lower bound (MAE: 0.2)
    hflip: bool = True           # random horizontal flips (MAE: on; off for digits, where mirror images are not digits)
    views: int = 1               # random views per image per step (MAE: 1; SimCLR: 2, the positive pair)
    color: float = 0.0           # SimCLR colour-distortion strength (ImageNet 1.0, CIFAR 0.5); 0 = none (MAE)
    grayscale: float = 0.0       # probability of a grayscale view (SimCLR: 0.2); 0 = never (MAE)

    def validate(self) -> None:
        if not 0.0 < self.min_scale <= 1.0:
            raise ValueError(f"min_scale must be in (0, 1], got {self.min_scale}")
        if self.channels not in (1, 3):
            raise ValueError(f"channels must be 1 or 3, got {self.channels}")
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be positive, got {self.batch_size}")
        if self.views < 1:
            raise ValueError(f"views must be positive, got {self.views}")
        if self.color < 0 or not 0.0 <= self.grayscale <= 1.0:
            raise ValueError(f"color must be >= 0 and grayscale in [0, 1], got {self.color}, {self.grayscale}")


class ImageDataset(Dataset):
    """Items ``{"image": (C, S, S) normalised, "label": int, "index": int}``; train=True draws random views,
    ``views`` > 1 of them per item as ``"image"`` (V, C, S, S) (SimCLR's two views of one image)."""

    def __init__(self, images: ImageSet, size: int, train: bool = False, min_scale: float = 0.2,
                 hflip: bool = True, seed: int = 0, order: list[int] | None = None, views: int = 1,
                 color: float = 0.0, grayscale: float = 0.0):
        if len(images) == 0:
            raise EdgeSSLError("the image set is empty")
        self.images, self.size, self.train = images, size, train
        self.scale, self.hflip, self.seed, self.epoch = (min_scale, 1.0), hflip, seed, 0
        self.views, self.color, self.grayscale = views, color, grayscale
        self.order = list(range(len(images))) if order is None else order

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.order)

    def __getitem__(self, i: int) -> dict:
        j = self.order[i]
        arr = self.images.images[j]
        if not self.train:
            return {"image": center_view(arr, self.size), "label": self.images.labels[j], "index": j}
        views = []
        for v in range(self.views):  # view 0 keeps the single-view seed, so MAE's crops are unchanged
            state = int(np.random.SeedSequence([self.seed, self.epoch, j] + ([v] if v else [])).generate_state(1)[0])
            views.append(random_resized_view(arr, self.size, self.scale, self.hflip,
                                             torch.Generator().manual_seed(state), self.color, self.grayscale))
        view = views[0] if self.views == 1 else torch.stack(views)  # (C, S, S) or (V, C, S, S)
        return {"image": view, "label": self.images.labels[j], "index": j}


def collate_images(items: list[dict]) -> dict:
    return {"images": torch.stack([it["image"] for it in items]),  # (B, C, S, S), or (B, V, C, S, S) with views
            "labels": torch.tensor([it["label"] for it in items], dtype=torch.long),  # (B,)
            "indices": torch.tensor([it["index"] for it in items], dtype=torch.long)}


def load_source(source: str, channels: int, image_size: int, photo_crops_n: int = 0, seed: int = 0,
                split: str = "train") -> ImageSet:
    """``builtin`` (digits ``split`` + photo crops), an image folder, or a manifest written by prepare-images."""
    if source == "builtin":
        images = load_digits(split, channels)
        if photo_crops_n:
            images = images + photo_crops(photo_crops_n, max(image_size, 64), channels, seed)
        return images
    from edge_ssl.vision.folder import load_image_folder, load_image_manifest

    path = Path(source)
    if path.is_dir():
        images, problems = load_image_folder(path, channels, max_side=2 * image_size)
        if problems:
            log.warning("%d unreadable image(s) skipped under %s", len(problems), path)
        return images
    if path.suffix == ".jsonl" or path.is_file():
        return load_image_manifest(path, channels, max_side=2 * image_size)
    raise EdgeSSLError(f"data.source {source!r}: not 'builtin', an image folder or a manifest file")


def build_image_data(cfg: ImageDataConfig, info, seed: int):
    """(dataset, sampler, collate) for training, sharded over ranks."""
    from edge_ssl.data.sampler import BucketBatchSampler

    images = load_source(cfg.source, cfg.channels, cfg.image_size, cfg.photo_crops, seed)
    if len(images) < cfg.batch_size * info.world_size:
        log.warning("only %d images for batch %d x %d processes", len(images), cfg.batch_size, info.world_size)
    order = np.random.default_rng(seed).permutation(len(images)).tolist()  # mix classes/sources in a batch
    dataset = ImageDataset(images, cfg.image_size, train=True, min_scale=cfg.min_scale, hflip=cfg.hflip,
                           seed=seed, order=order, views=cfg.views, color=cfg.color, grayscale=cfg.grayscale)
    sampler = BucketBatchSampler([1] * len(dataset), cfg.batch_size, cfg.batch_size, shuffle=True, seed=seed,
                                 num_replicas=info.world_size, rank=info.rank, drop_last=True)
    log.info("%d training images (%s), %d batches of %d per process per epoch", len(images), cfg.source,
             len(sampler), cfg.batch_size)
    return dataset, sampler, collate_images
