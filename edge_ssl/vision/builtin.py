"""The offline default image data: OpenCV's handwritten digits sheet plus crops of scikit-image's photos.

- ``digits.png`` from Debian's ``opencv-doc``: 5000 digits of 20x20 px, 500 per class, the classes in
  order, each as 5 rows of 100. The held-out split is by position: the last row of each class (index
  400..499 within the class) is ``test`` (1000 digits), the first four are ``train`` (4000).
- ``skimage.data`` photos (astronaut, coffee, chelsea, ...): seeded random crops, unlabeled, which give
  MAE natural-image texture next to the digits.
- Labeled evaluation sets beside the digits (``builtin:<name>`` in ``edge-ssl embed --images``):
  scikit-image's ``lfw_subset`` (faces vs non-faces, 25x25) and scikit-learn's 8x8 digits.
"""
from __future__ import annotations

import gzip
import io
import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from edge_ssl.errors import EdgeSSLError
from edge_ssl.vision.images import to_channels

log = logging.getLogger(__name__)

DIGITS_CANDIDATES = (
    "/usr/share/doc/opencv-doc/examples/data/digits.png",
    "/usr/share/doc/opencv-doc/examples/data/digits.png.gz",
    "/usr/share/opencv4/samples/data/digits.png",
    "/usr/share/opencv/samples/data/digits.png",
)
DIGIT_PX, PER_CLASS, PER_ROW, HELD_OUT_FROM = 20, 500, 100, 400
PHOTOS = ("astronaut", "coffee", "chelsea", "camera", "rocket", "immunohistochemistry", "hubble_deep_field",
          "retina", "brick", "grass", "gravel", "coins", "moon", "page", "text", "clock", "colorwheel")


@dataclass
class ImageSet:
    """Images in memory: uint8 (H, W, C) arrays (sizes may differ), integer labels (-1 = unlabeled)."""
    images: list[np.ndarray]
    labels: list[int]
    names: list[str]                                       # an id per image (file path or sheet position)
    classes: list[str] = field(default_factory=list)       # label index -> class name

    def __len__(self) -> int:
        return len(self.images)

    def __add__(self, other: "ImageSet") -> "ImageSet":
        if self.classes and other.classes and self.classes != other.classes:
            raise ValueError("cannot join image sets with different class lists")
        return ImageSet(self.images + other.images, self.labels + other.labels, self.names + other.names,
                        self.classes or other.classes)


def find_digits_sheet(path: str | None = None) -> Path:
    for cand in ([path] if path else DIGITS_CANDIDATES):
        if cand and Path(cand).is_file():
            return Path(cand)
    where = path or ", ".join(DIGITS_CANDIDATES)
    raise EdgeSSLError(f"OpenCV digits sheet not found ({where}); install it with `apt-get install opencv-doc` "
                       "or pass its path")


def load_digits(split: str = "train", channels: int = 3, path: str | None = None) -> ImageSet:
    """The digits sheet cut into 20x20 digits. split: "train" (4000), "test" (1000) or "all" (5000)."""
    from PIL import Image

    if split not in ("train", "test", "all"):
        raise ValueError(f"split must be train, test or all, got {split!r}")
    sheet_path = find_digits_sheet(path)
    raw = sheet_path.read_bytes()
    if sheet_path.suffix == ".gz":
        raw = gzip.decompress(raw)
    sheet = np.asarray(Image.open(io.BytesIO(raw)).convert("L"))  # (1000, 2000)
    rows, cols = sheet.shape[0] // DIGIT_PX, sheet.shape[1] // DIGIT_PX
    if rows * cols != 10 * PER_CLASS or cols != PER_ROW:
        raise EdgeSSLError(f"{sheet_path}: expected a 50x100 grid of 20 px digits, got {rows}x{cols}")
    tiles = sheet.reshape(rows, DIGIT_PX, cols, DIGIT_PX).transpose(0, 2, 1, 3).reshape(-1, DIGIT_PX, DIGIT_PX)
    images, labels, names = [], [], []
    for i, tile in enumerate(tiles):  # row-major: class = i // 500
        label, within = divmod(i, PER_CLASS)
        held_out = within >= HELD_OUT_FROM
        if split == "all" or held_out == (split == "test"):
            images.append(to_channels(tile, channels))
            labels.append(label)
            names.append(f"digits/{i // PER_ROW:02d}_{i % PER_ROW:02d}")
    return ImageSet(images, labels, names, [str(d) for d in range(10)])


def load_lfw_subset(channels: int = 3) -> ImageSet:
    """scikit-image's ``lfw_subset``: 200 gray 25x25 crops from Labeled Faces in the Wild, 100 faces then
    100 non-faces (background from the same photos). Labels 0 = face, 1 = non-face."""
    try:
        import skimage.data
    except ImportError:
        raise EdgeSSLError("the lfw set needs scikit-image: pip install scikit-image") from None
    arr = np.asarray(skimage.data.lfw_subset())  # (200, 25, 25) float in [0, 1]
    arr = (arr * 255).round().astype(np.uint8) if arr.dtype.kind == "f" else arr.astype(np.uint8)
    return ImageSet([to_channels(a, channels) for a in arr], [0] * 100 + [1] * 100,
                    [f"lfw/{i:03d}" for i in range(len(arr))], ["face", "non-face"])


def load_digits8x8(channels: int = 3) -> ImageSet:
    """scikit-learn's ``load_digits``: 1797 8x8 digits (UCI optdigits, 0..16 gray levels -> 0..255), another
    writers' digits at another resolution than the OpenCV sheet."""
    from sklearn.datasets import load_digits as sk_digits

    d = sk_digits()
    arr = (d.images * (255 / 16)).round().astype(np.uint8)  # (1797, 8, 8)
    return ImageSet([to_channels(a, channels) for a in arr], d.target.tolist(),
                    [f"digits8x8/{i:04d}" for i in range(len(arr))], [str(c) for c in range(10)])


LABELED_SETS = {"lfw": load_lfw_subset, "digits8x8": load_digits8x8}  # builtin:<name>, split 80/20 per class


def load_labeled_set(name: str, channels: int = 3) -> ImageSet:
    if name not in LABELED_SETS:
        raise EdgeSSLError(f"unknown builtin image set {name!r}; choose from digits, {', '.join(LABELED_SETS)}")
    return LABELED_SETS[name](channels)


def photo_crops(n: int, size: int, channels: int = 3, seed: int = 0) -> ImageSet:
    """``n`` seeded random square crops (1/8..1/2 of the short side) of the scikit-image photos, at
    ``size`` px. Unlabeled (-1)."""
    if n <= 0:
        return ImageSet([], [], [])
    try:
        import skimage.data
        from skimage.transform import resize as sk_resize
    except ImportError:
        raise EdgeSSLError("photo crops need scikit-image: pip install scikit-image") from None
    rng = np.random.default_rng(seed)
    photos = []
    for name in PHOTOS:
        img = np.asarray(getattr(skimage.data, name)())
        if img.dtype == bool:
            img = img.astype(np.uint8) * 255
        photos.append((name, to_channels(img.astype(np.uint8), channels)))
    images, names = [], []
    for i in range(n):
        name, img = photos[i % len(photos)]
        H, W = img.shape[:2]
        side = int(min(H, W) * rng.uniform(1 / 8, 1 / 2))
        top, left = rng.integers(0, H - side + 1), rng.integers(0, W - side + 1)
        crop = sk_resize(img[top:top + side, left:left + side], (size, size), anti_aliasing=True,
                         preserve_range=True)
        images.append(crop.round().astype(np.uint8))
        names.append(f"photos/{name}_{i:05d}")
    return ImageSet(images, [-1] * n, names)
