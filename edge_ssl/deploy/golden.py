"""Golden vectors beside an artifact, for a phone-side test (the .pte/.onnx runtimes on device are built
from source and cannot run this Python; shared/STACK.md pitfall 6).

``<artifact>.golden/`` holds, per utterance, ``<i>.input.f32`` (raw little-endian float32 samples, before
any normalisation; for an image encoder the normalised (C, S, S) image, row-major) and ``<i>.expected.f32``
(the artifact's own output on this machine, row-major (T, V), or (D,)), plus ``index.json`` with shapes
(``input_shape``, ``shape``), decoded text, the tolerance and the artifact's sha256 (vectors beside another
version of the artifact are refused). The folder is written whole, then renamed; export publishes it with
its artifact as one unit (``deploy/publish.py``).
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edge_ssl.errors import EdgeSSLError
from edge_ssl.atomic import file_sha256

# Allowed |expected - device| relative to max(1, max |expected|): across CPUs XNNPACK reorders fp32 sums;
# int8 kernels may round differently by one step.
TOLERANCE = {"fp32": 1e-3, "int8": 5e-2}


@dataclass
class GoldenItem:
    name: str
    wave: np.ndarray       # (S,) float32; image encoder: (C, S, S)
    expected: np.ndarray   # (T, V) float32; image encoder: (D,)
    text: str | None


def golden_dir(artifact: str | Path) -> Path:
    artifact = Path(artifact)
    return artifact.with_name(artifact.name + ".golden")


def tolerance_for(precision: str) -> float:
    return TOLERANCE["fp32" if precision == "fp32" else "int8"]


def write_golden(artifact: str | Path, items: list[GoldenItem], precision: str, source_model: str | Path) -> Path:
    final = golden_dir(artifact)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", dir=final.parent))
    umask = os.umask(0)
    os.umask(umask)
    tmp.chmod(0o777 & ~umask)  # mkdtemp makes it 0700; the published folder gets a normal folder's mode
    try:
        index = {"artifact": Path(artifact).name, "artifact_sha256": file_sha256(artifact), "precision": precision,
                 "source_model": str(Path(source_model).resolve()),
                 "tolerance_rel_max_abs": tolerance_for(precision), "dtype": "float32 little-endian", "items": []}
        for i, it in enumerate(items):
            stem = f"{i:02d}"
            it.wave.astype("<f4").tofile(tmp / f"{stem}.input.f32")
            it.expected.astype("<f4").tofile(tmp / f"{stem}.expected.f32")
            index["items"].append({"name": it.name, "input": f"{stem}.input.f32", "num_samples": int(it.wave.size),
                                   "input_shape": list(it.wave.shape),
                                   "expected": f"{stem}.expected.f32", "shape": list(it.expected.shape),
                                   "text": it.text})
        (tmp / "index.json").write_text(json.dumps(index, indent=1))
        old = final.with_name(final.name + ".old")
        if final.exists():
            shutil.rmtree(old, ignore_errors=True)
            final.rename(old)
        tmp.rename(final)
        shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return final


def read_golden(artifact: str | Path) -> tuple[dict, list[GoldenItem]]:
    folder = golden_dir(artifact)
    index_path = folder / "index.json"
    if not index_path.is_file():
        raise EdgeSSLError(f"{folder}: no golden vectors (index.json missing); pass audio files to verify")
    try:
        index = json.loads(index_path.read_text())
        want = index.get("artifact_sha256")  # older indexes have none
        if want and want != (have := file_sha256(artifact)):
            raise EdgeSSLError(f"{folder}: these golden vectors belong to another version of {Path(artifact).name} "
                               f"(sha256 {want[:12]}, the file is {have[:12]}); re-export it")
        items = []
        for row in index["items"]:
            wave = np.fromfile(folder / row["input"], dtype="<f4")
            expected = np.fromfile(folder / row["expected"], dtype="<f4")
            if len(wave) != row["num_samples"] or expected.size != int(np.prod(row["shape"])):
                raise ValueError(f"{row['name']}: file sizes do not match index.json")
            wave = wave.reshape(row.get("input_shape", [len(wave)]))  # older indexes: 1-D waves only
            items.append(GoldenItem(row["name"], wave, expected.reshape(row["shape"]), row.get("text")))
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise EdgeSSLError(f"{folder}: bad golden vectors ({e})") from None
    return index, items
