"""Frame-label files aligned with a manifest, and a dataset that crops labels together with the audio.

A label file (``.km``, fairseq's format) has one line per manifest utterance, in manifest order: the
utterance's cluster ids at ``label_rate`` Hz, separated by spaces. Reading checks the alignment: the line
count must equal the manifest's utterance count, and each line's length must match the utterance's
duration x label_rate within 0.1 s (fairseq ``verify_label_lengths``' tolerance) -- otherwise a clear
error that names the file and line, never a silent shift of every label after a missing line.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from edge_ssl.data.manifest import Utterance
from edge_ssl.errors import EdgeSSLError
from edge_ssl.atomic import atomic_write_text
from edge_ssl.objectives.hubert import IGNORE

SAMPLE_RATE = 16000
LENGTH_TOLERANCE_S = 0.1


class LabelError(EdgeSSLError):
    """A label file is missing, malformed, or does not align with its manifest."""


def expected_label_count(num_samples: int, label_rate: float) -> int:
    return int(round(num_samples * label_rate / SAMPLE_RATE))


def write_labels(path: str | Path, labels: Sequence[np.ndarray]) -> None:
    atomic_write_text(Path(path), "".join(" ".join(map(str, np.asarray(x).tolist())) + "\n" for x in labels))


def read_labels(path: str | Path, utts: Sequence[Utterance], label_rate: float,
                num_classes: int | None = None) -> dict[str, np.ndarray]:
    """utterance id -> (L,) int64 labels. Raises LabelError naming the file/line on any misalignment."""
    path = Path(path)
    if not path.is_file():
        raise LabelError(f"label file not found: {path} (make it with `edge-ssl hubert-targets`)")
    lines = path.read_text().splitlines()
    if len(lines) != len(utts):
        raise LabelError(f"{path}: {len(lines)} lines but the manifest has {len(utts)} utterances; "
                         f"labels must be dumped for exactly this manifest, one line per utterance")
    tol = max(1, int(round(LENGTH_TOLERANCE_S * label_rate)))
    out: dict[str, np.ndarray] = {}
    for lineno, (line, utt) in enumerate(zip(lines, utts), 1):
        try:
            ids = np.array([int(t) for t in line.split()], dtype=np.int64)
        except ValueError:
            raise LabelError(f"{path}:{lineno}: not a line of integers: {line[:60]!r}") from None
        want = expected_label_count(utt.num_samples, label_rate)
        if abs(len(ids) - want) > tol:
            raise LabelError(f"{path}:{lineno}: {len(ids)} labels for utterance {utt.id!r} of "
                             f"{utt.num_samples / SAMPLE_RATE:.2f} s; expected ~{want} at {label_rate:g} Hz "
                             f"(wrong label_rate, or labels of another manifest?)")
        if ids.size and (ids.min() < 0 or (num_classes is not None and ids.max() >= num_classes)):
            raise LabelError(f"{path}:{lineno}: label out of range 0..{(num_classes or 0) - 1}: "
                             f"min {ids.min()}, max {ids.max()}")
        out[utt.id] = ids
    return out


class LabeledAudioDataset(Dataset):
    """Wraps an ``AudioDataset``: each item also gets ``labels`` (L,), cut from the same span as the audio
    crop (fairseq ``HubertDataset``: start = round(crop_start x label_rate / 16000))."""

    def __init__(self, audio, labels: dict[str, np.ndarray], label_rate: float):
        missing = [u.id for u in audio.utts if u.id not in labels]
        if missing:
            raise LabelError(f"no labels for {len(missing)} utterance(s), e.g. {missing[0]!r}")
        self.audio, self.labels, self.label_rate = audio, labels, label_rate

    def set_epoch(self, epoch: int) -> None:
        self.audio.set_epoch(epoch)

    def __len__(self) -> int:
        return len(self.audio)

    def __getitem__(self, index: int) -> dict[str, Any]:
        item = self.audio[index]
        utt = self.audio.utts[index]
        start = self.audio.crop_offset(index, utt.num_samples)  # the offset the audio crop used
        lab = self.labels[utt.id]
        first = int(round(start * self.label_rate / SAMPLE_RATE))
        size = int(round(len(item["wave"]) * self.label_rate / SAMPLE_RATE))
        item["labels"] = torch.from_numpy(lab[first:first + size].copy())
        return item


class LabelCollate:
    """Wraps an audio collate: also pads ``labels`` to (B, L_max) with IGNORE. (A class, so DataLoader
    workers can pickle it.)"""

    def __init__(self, collate):
        self.collate = collate

    def __call__(self, items: Sequence[dict[str, Any]]) -> dict[str, Any]:
        batch = self.collate(items)
        longest = max(len(it["labels"]) for it in items)
        labels = torch.full((len(items), longest), IGNORE, dtype=torch.int64)   # (B, L)
        for row, it in zip(labels, items):
            row[:len(it["labels"])] = it["labels"]
        batch["labels"] = labels
        return batch
