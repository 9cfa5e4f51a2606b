"""Users' own images: a folder whose sub-folders name the classes (``root/cat/1.jpg`` -> class "cat").

Images directly in ``root`` are unlabeled (-1). ``prepare_image_folder`` checks every file once and writes
a JSONL manifest (one ``{"path", "label", "class", "width", "height"}`` per readable image); unreadable,
corrupt or tiny files are reported and skipped. An empty folder is an error.
"""
from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np

from edge_ssl.errors import EdgeSSLError
from edge_ssl.atomic import atomic_write_text
from edge_ssl.vision.builtin import ImageSet
from edge_ssl.vision.images import IMAGE_SUFFIXES, ImageError, load_image, to_tensor

log = logging.getLogger(__name__)


def list_images(root: str | Path) -> tuple[list[Path], list[str]]:
    """Image files under ``root`` (sorted) and the class names (sorted sub-folder names that hold images)."""
    root = Path(root)
    if not root.is_dir():
        raise EdgeSSLError(f"image folder not found: {root}")
    files = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise EdgeSSLError(f"{root}: no image files ({', '.join(IMAGE_SUFFIXES)}) in this folder or below")
    classes = sorted({p.relative_to(root).parts[0] for p in files if len(p.relative_to(root).parts) > 1})
    return files, classes


def _label(path: Path, root: Path, classes: list[str]) -> int:
    parts = path.relative_to(root).parts
    return classes.index(parts[0]) if len(parts) > 1 else -1


def _shrink(arr: np.ndarray, max_side: int | None) -> np.ndarray:
    """Keep memory small: scale so the short side is at most ``max_side`` (None: unchanged)."""
    H, W = arr.shape[:2]
    if not max_side or min(H, W) <= max_side:
        return arr
    s = max_side / min(H, W)
    h, w = max(1, round(H * s)), max(1, round(W * s))
    import torch.nn.functional as F
    x = F.interpolate(to_tensor(arr)[None], size=(h, w), mode="bilinear", antialias=True, align_corners=False)[0]
    return (x.permute(1, 2, 0).clamp(0, 1) * 255).round().byte().numpy()


def load_image_folder(root: str | Path, channels: int = 3, max_side: int | None = None
                      ) -> tuple[ImageSet, list[str]]:
    """Read every image under ``root``. Returns (images, problems): one line per skipped file."""
    root = Path(root)
    files, classes = list_images(root)
    images, labels, names, problems = [], [], [], []
    for path in files:
        try:
            arr = load_image(path, channels)
        except ImageError as e:
            problems.append(str(e))
            log.warning("skipping %s", e)
            continue
        images.append(_shrink(arr, max_side))
        labels.append(_label(path, root, classes))
        names.append(str(path))
    if not images:
        raise EdgeSSLError(f"{root}: none of the {len(files)} image files could be read (first: {problems[0]})")
    return ImageSet(images, labels, names, classes), problems


def prepare_image_folder(root: str | Path, manifest: str | Path) -> tuple[int, list[str]]:
    """Check every image under ``root`` and write the JSONL manifest (atomically).

    Returns (number of readable images, problems)."""
    root = Path(root)
    files, classes = list_images(root)
    lines, problems = [], []
    for path in files:
        try:
            arr = load_image(path, 3)
        except ImageError as e:
            problems.append(str(e))
            continue
        label = _label(path, root, classes)
        lines.append(json.dumps({"path": str(path.resolve()), "label": label,
                                 "class": classes[label] if label >= 0 else None,
                                 "width": int(arr.shape[1]), "height": int(arr.shape[0])}))
    if not lines:
        raise EdgeSSLError(f"{root}: none of the {len(files)} image files could be read (first: {problems[0]})")
    atomic_write_text(manifest, "".join(ln + "\n" for ln in lines))
    return len(lines), problems


def load_image_manifest(manifest: str | Path, channels: int = 3, max_side: int | None = None) -> ImageSet:
    """Read the images a manifest lists; a listed file that has become unreadable is reported and skipped."""
    manifest = Path(manifest)
    if not manifest.is_file():
        raise EdgeSSLError(f"image manifest not found: {manifest} (make one with `edge-ssl prepare-images`)")
    rows = []
    for n, line in enumerate(manifest.read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            rows.append((str(row["path"]), int(row["label"]), row.get("class")))
        except (json.JSONDecodeError, KeyError, TypeError, ValueError) as e:
            raise EdgeSSLError(f"{manifest}:{n}: bad line ({e}); expected JSON with path and label") from None
    if not rows:
        raise EdgeSSLError(f"{manifest}: the manifest lists no images")
    n_classes = max(label for _, label, _ in rows) + 1
    classes = [""] * n_classes
    images, labels, names = [], [], []
    for path, label, cls in rows:
        if label >= 0 and cls:
            classes[label] = cls
        try:
            images.append(_shrink(load_image(path, channels), max_side))
        except ImageError as e:
            log.warning("skipping %s", e)
            continue
        labels.append(label)
        names.append(path)
    if not images:
        raise EdgeSSLError(f"{manifest}: none of the listed images could be read")
    return ImageSet(images, labels, names, classes)
