import json

import numpy as np
import pytest
from PIL import Image

from edge_ssl.errors import EdgeSSLError
from edge_ssl.vision.folder import load_image_folder, load_image_manifest, prepare_image_folder
from edge_ssl.vision.images import ImageError, load_image


@pytest.fixture
def folder(tmp_path):
    rng = np.random.default_rng(0)
    root = tmp_path / "imgs"
    (root / "cat").mkdir(parents=True)
    (root / "dog").mkdir()
    Image.fromarray(rng.integers(0, 255, (20, 30, 3), dtype=np.uint8)).save(root / "cat" / "rgb.png")
    Image.fromarray(rng.integers(0, 255, (16, 16), dtype=np.uint8)).save(root / "cat" / "gray.png")
    Image.fromarray(rng.integers(0, 255, (12, 12, 4), dtype=np.uint8)).save(root / "dog" / "rgba.png")
    Image.fromarray(rng.integers(0, 255, (24, 24, 3), dtype=np.uint8)).save(root / "dog" / "photo.jpg")
    Image.fromarray(rng.integers(0, 255, (3, 3, 3), dtype=np.uint8)).save(root / "dog" / "tiny.png")
    (root / "dog" / "corrupt.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    (root / "notes.txt").write_text("ignored")
    Image.fromarray(rng.integers(0, 255, (10, 10), dtype=np.uint8)).save(root / "loose.png")
    return root


def test_load_image_converts_channels_and_reports_bad_files(folder):
    assert load_image(folder / "cat" / "gray.png", 3).shape == (16, 16, 3)
    assert load_image(folder / "cat" / "rgb.png", 1).shape == (20, 30, 1)
    assert load_image(folder / "dog" / "rgba.png", 3).shape == (12, 12, 3)
    with pytest.raises(ImageError, match="corrupt.jpg: not a readable image"):
        load_image(folder / "dog" / "corrupt.jpg")
    with pytest.raises(ImageError, match="smaller than"):
        load_image(folder / "dog" / "tiny.png")
    with pytest.raises(ImageError, match="not found"):
        load_image(folder / "missing.png")


def test_prepare_writes_labels_by_subfolder_and_reports_bad_items(folder, tmp_path):
    manifest = tmp_path / "m.jsonl"
    n, problems = prepare_image_folder(folder, manifest)
    assert n == 5 and len(problems) == 2
    assert any("corrupt.jpg" in p for p in problems) and any("tiny.png" in p for p in problems)
    rows = [json.loads(ln) for ln in manifest.read_text().splitlines()]
    by_name = {r["path"].split("/")[-1]: r for r in rows}
    assert by_name["rgb.png"]["class"] == "cat" and by_name["rgb.png"]["label"] == 0
    assert by_name["photo.jpg"]["label"] == 1 and by_name["loose.png"]["label"] == -1
    assert by_name["rgb.png"]["width"] == 30
    images = load_image_manifest(manifest, channels=3)
    assert len(images) == 5 and images.classes == ["cat", "dog"]


def test_load_folder_and_empty_folder_errors(folder, tmp_path):
    images, problems = load_image_folder(folder, channels=1)
    assert len(images) == 5 and len(problems) == 2 and all(a.shape[2] == 1 for a in images.images)
    (tmp_path / "empty").mkdir()
    with pytest.raises(EdgeSSLError, match="no image files"):
        load_image_folder(tmp_path / "empty")
    with pytest.raises(EdgeSSLError, match="not found"):
        prepare_image_folder(tmp_path / "nope", tmp_path / "x.jsonl")
    assert not (tmp_path / "x.jsonl").exists()
