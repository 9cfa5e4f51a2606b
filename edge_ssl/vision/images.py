"""Image files -> arrays, and the tensor transforms shared by training and feature extraction.

Every image becomes ``uint8`` (H, W, C) with the channel count the model wants: grayscale is replicated
to RGB, RGB is averaged to gray, alpha is dropped. A file that cannot be decoded raises ``ImageError``
naming it, so batch jobs can report it and go on.
"""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from edge_ssl.errors import EdgeSSLError

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm")
MIN_SIDE = 8  # smaller images hold too little to embed: reported, not upsampled from nothing
# ImageNet statistics (MAE normalises inputs with them); grayscale uses their mean.
MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)


class ImageError(EdgeSSLError):
    """An image file is missing, unreadable, corrupt or too small."""


def to_channels(arr: np.ndarray, channels: int) -> np.ndarray:
    """(H, W) or (H, W, 1|3|4) uint8 -> (H, W, channels) uint8."""
    if arr.ndim == 2:
        arr = arr[:, :, None]
    if arr.shape[2] == 4:
        arr = arr[:, :, :3]
    if arr.shape[2] == channels:
        return arr
    if channels == 3 and arr.shape[2] == 1:
        return np.repeat(arr, 3, axis=2)
    if channels == 1 and arr.shape[2] == 3:
        return arr.mean(axis=2, keepdims=True).round().astype(np.uint8)
    raise ValueError(f"cannot convert {arr.shape[2]} channels to {channels}")


def load_image(path: str | Path, channels: int = 3) -> np.ndarray:
    """Read an image file -> uint8 (H, W, channels). Raises ``ImageError`` for bad files."""
    from PIL import Image, UnidentifiedImageError

    path = Path(path)
    try:
        with Image.open(path) as im:
            im.load()
            if im.mode not in ("L", "RGB", "RGBA"):
                im = im.convert("RGBA" if "A" in im.getbands() else "RGB")
            arr = np.asarray(im)
    except FileNotFoundError:
        raise ImageError(f"{path}: image file not found") from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as e:
        raise ImageError(f"{path}: not a readable image ({e})") from None
    if arr.dtype == bool:
        arr = arr.astype(np.uint8) * 255
    if min(arr.shape[:2]) < MIN_SIDE:
        raise ImageError(f"{path}: image is {arr.shape[1]}x{arr.shape[0]} px, smaller than {MIN_SIDE} px a side")
    return to_channels(arr.astype(np.uint8), channels)


def normalize(x: torch.Tensor) -> torch.Tensor:
    """(B, C, H, W) in [0, 1] -> normalised with the ImageNet mean/std (gray: their average)."""
    C = x.shape[1]
    mean = torch.tensor(MEAN if C == 3 else (sum(MEAN) / 3,) * C, dtype=x.dtype, device=x.device)
    std = torch.tensor(STD if C == 3 else (sum(STD) / 3,) * C, dtype=x.dtype, device=x.device)
    return (x - mean[:, None, None]) / std[:, None, None]


def denormalize(x: torch.Tensor) -> torch.Tensor:
    """Inverse of ``normalize``, clamped to [0, 1] for display. (B, C, H, W)."""
    C = x.shape[1]
    mean = torch.tensor(MEAN if C == 3 else (sum(MEAN) / 3,) * C, dtype=x.dtype, device=x.device)
    std = torch.tensor(STD if C == 3 else (sum(STD) / 3,) * C, dtype=x.dtype, device=x.device)
    return (x * std[:, None, None] + mean[:, None, None]).clamp(0, 1)


def to_tensor(arr: np.ndarray) -> torch.Tensor:
    """uint8 (H, W, C) -> float (C, H, W) in [0, 1]."""
    return torch.from_numpy(np.ascontiguousarray(arr)).permute(2, 0, 1).float() / 255.0


def resize(x: torch.Tensor, size: int) -> torch.Tensor:
    """(C, H, W) -> (C, size, size), bilinear with antialiasing when shrinking."""
    if x.shape[1] == size and x.shape[2] == size:
        return x
    return F.interpolate(x[None], size=(size, size), mode="bilinear", align_corners=False, antialias=True)[0]


def center_view(arr: np.ndarray, size: int) -> torch.Tensor:
    """Evaluation transform: uint8 (H, W, C) -> centre square crop, resized -> normalised (C, size, size)."""
    H, W = arr.shape[:2]
    s = min(H, W)
    top, left = (H - s) // 2, (W - s) // 2
    x = resize(to_tensor(arr[top:top + s, left:left + s]), size)
    return normalize(x[None])[0]


def random_resized_view(arr: np.ndarray, size: int, scale: tuple[float, float], hflip: bool,
                        gen: torch.Generator) -> torch.Tensor:
    """Training transform (MAE: RandomResizedCrop + flip): a random square-ish crop covering ``scale`` of
    the area, aspect 3/4..4/3, resized to ``size``; optional horizontal flip. -> normalised (C, size, size)."""
    H, W = arr.shape[:2]
    r = torch.rand(4, generator=gen).tolist()
    area = H * W * (scale[0] + (scale[1] - scale[0]) * r[0])
    aspect = float(np.exp(np.log(3 / 4) + (np.log(4 / 3) - np.log(3 / 4)) * r[1]))
    w = int(round(min(W, max(1.0, (area * aspect) ** 0.5))))
    h = int(round(min(H, max(1.0, (area / aspect) ** 0.5))))
    top = int(r[2] * (H - h + 1)) if H > h else 0
    left = int(r[3] * (W - w + 1)) if W > w else 0
    x = resize(to_tensor(arr[top:top + h, left:left + w]), size)
    if hflip and bool(torch.rand(1, generator=gen) < 0.5):
        x = x.flip(-1)
    return normalize(x[None])[0]
