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


def color_distort(x: torch.Tensor, strength: float, grayscale_p: float, gen: torch.Generator) -> torch.Tensor:
    """SimCLR's colour distortion on a (C, H, W) image in [0, 1]: with p = 0.8 brightness, contrast and
    saturation jitter of 0.8 x ``strength`` in random order, then grayscale with p = ``grayscale_p``
    (Chen et al. 2020, Appendix A). Hue jitter (0.2 x strength) is left out: it needs an HSV round trip,
    and the gray digits have no hue. -> (C, H, W) in [0, 1]."""
    r = torch.rand(5, generator=gen).tolist()
    if strength > 0 and r[0] < 0.8:
        amount = 0.8 * strength
        factors = (1 + amount * (2 * torch.rand(3, generator=gen) - 1)).clamp_min(0).tolist()  # each in [1-a, 1+a]
        for op in torch.randperm(3, generator=gen).tolist():
            if op == 0:  # brightness
                x = x * factors[0]
            elif op == 1:  # contrast: blend with the mean gray level
                x = (x - x.mean()) * factors[1] + x.mean()
            elif x.shape[0] == 3:  # saturation: blend with the grayscale image
                gray = (0.299 * x[0] + 0.587 * x[1] + 0.114 * x[2])[None]
                x = (x - gray) * factors[2] + gray
            x = x.clamp(0, 1)
    if x.shape[0] == 3 and r[1] < grayscale_p:
        x = (0.299 * x[0] + 0.587 * x[1] + 0.114 * x[2])[None].expand(3, -1, -1).clone()
    return x


def random_resized_view(arr: np.ndarray, size: int, scale: tuple[float, float], hflip: bool,
                        gen: torch.Generator, color: float = 0.0, grayscale_p: float = 0.0) -> torch.Tensor:
    """Training transform (MAE: RandomResizedCrop + flip): a random square-ish crop covering ``scale`` of
    the area, aspect 3/4..4/3, resized to ``size``; optional horizontal flip; SimCLR's colour distortion
    when ``color`` or ``grayscale_p`` > 0 (``color_distort``). -> normalised (C, size, size)."""
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
    if color > 0 or grayscale_p > 0:  # MAE views draw nothing more, so their crops stay as they were
        x = color_distort(x, color, grayscale_p, gen)
    return normalize(x[None])[0]
