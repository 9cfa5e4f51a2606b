import numpy as np
import pytest
import torch

from edge_ssl.training.distributed import DistInfo
from edge_ssl.vision.builtin import ImageSet, find_digits_sheet, load_digits, photo_crops
from edge_ssl.vision.dataset import ImageDataConfig, ImageDataset, build_image_data

try:
    find_digits_sheet()
    HAVE_DIGITS = True
except Exception:
    HAVE_DIGITS = False


@pytest.mark.skipif(not HAVE_DIGITS, reason="opencv-doc digits.png not installed")
def test_digits_split_is_by_position_and_disjoint():
    train, test = load_digits("train", 1), load_digits("test", 1)
    assert len(train) == 4000 and len(test) == 1000
    assert np.bincount(test.labels).tolist() == [100] * 10
    assert not set(train.names) & set(test.names)
    assert train.images[0].shape == (20, 20, 1) and train.images[0].max() > 200  # white digit on black
    assert load_digits("test", 3).names == test.names  # deterministic


def test_train_views_are_seeded_per_item_and_epoch():
    rng = np.random.default_rng(0)
    images = ImageSet([rng.integers(0, 255, (20, 20, 3), dtype=np.uint8) for _ in range(4)], [0, 1, 0, 1],
                      [str(i) for i in range(4)])
    ds = ImageDataset(images, 16, train=True, min_scale=0.3, hflip=True, seed=3)
    a = ds[1]["image"]
    assert a.shape == (3, 16, 16)
    assert torch.equal(a, ds[1]["image"])
    ds.set_epoch(1)
    assert not torch.equal(a, ds[1]["image"])
    ev = ImageDataset(images, 16)[1]["image"]  # evaluation: a fixed centre view
    assert torch.equal(ev, ImageDataset(images, 16)[1]["image"])


def test_photo_crops_are_unlabeled_and_sized():
    crops = photo_crops(3, 32, 3, seed=0)
    assert len(crops) == 3 and crops.labels == [-1] * 3 and crops.images[0].shape == (32, 32, 3)


@pytest.mark.skipif(not HAVE_DIGITS, reason="opencv-doc digits.png not installed")
def test_build_image_data_mixes_classes_in_a_batch():
    cfg = ImageDataConfig(source="builtin", image_size=16, batch_size=32, photo_crops=0)
    ds, sampler, collate = build_image_data(cfg, DistInfo(), seed=0)
    batch = collate([ds[i] for i in next(iter(sampler))])
    assert batch["images"].shape == (32, 3, 16, 16)
    assert len(set(batch["labels"].tolist())) >= 5
