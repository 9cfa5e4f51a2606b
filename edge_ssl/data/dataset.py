"""Waveform dataset over a manifest, and the padding collate for variable-length batches.

Long utterances are cropped to ``max_samples`` (fairseq's ``max_sample_size``). A random crop depends only
on ``(seed, epoch, index)``, never on worker order or call history, so a resumed run sees identical data;
so does the optional random low-pass (``lowpass``: probability and a cutoff range in Hz).
"""
from __future__ import annotations

from typing import Any, Literal, Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from edge_ssl.audio.augment import lowpass
from edge_ssl.audio.io import load_audio
from edge_ssl.data.manifest import Utterance


class AudioDataset(Dataset):
    def __init__(self, utts: Sequence[Utterance], max_samples: int | None = None,
                 crop: Literal["random", "start"] = "random", seed: int = 0, crop_multiple: int = 1,
                 lowpass: tuple[float, float, float] = (0.0, 4000.0, 5500.0)):
        if crop not in ("random", "start"):
            raise ValueError(f"crop must be 'random' or 'start', got {crop!r}")
        if max_samples is not None and max_samples <= 0:
            raise ValueError(f"max_samples must be positive, got {max_samples}")
        if not (0 <= lowpass[0] <= 1 and 0 < lowpass[1] <= lowpass[2] <= 8000):
            raise ValueError(f"data.lowpass_prob must be in [0, 1] and data.lowpass_hz a range within (0, 8000] Hz, "
                             f"got {lowpass[0]} and {list(lowpass[1:])}")
        self.utts = list(utts)
        self.max_samples = max_samples  # crop longer utterances to this many samples (None: keep whole)
        self.crop = crop                # "random" for pretraining, "start" for deterministic evaluation
        self.seed = seed
        self.crop_multiple = crop_multiple  # crops start on a multiple of this (a frame hop: cached targets align)
        self.lowpass = lowpass  # (probability, lowest cutoff Hz, highest cutoff Hz)
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.utts)

    @property
    def lengths(self) -> list[int]:
        """Per-item lengths after cropping, for ``BucketBatchSampler``."""
        cap = self.max_samples or max((u.num_samples for u in self.utts), default=0)
        return [min(u.num_samples, cap) for u in self.utts]

    def crop_offset(self, index: int, num_samples: int) -> int:
        excess = num_samples - (self.max_samples or num_samples)
        if excess <= 0 or self.crop == "start":
            return 0
        start = int(np.random.default_rng([self.seed, self.epoch, index]).integers(0, excess + 1))
        return start - start % self.crop_multiple

    def __getitem__(self, index: int) -> dict[str, Any]:
        utt = self.utts[index]
        wave = load_audio(utt.audio_path)  # (S,) float32; AudioError names the file
        start = self.crop_offset(index, len(wave))
        if self.max_samples is not None:
            wave = wave[start:start + self.max_samples]
        prob, lo, hi = self.lowpass
        if prob > 0:
            rng = np.random.default_rng([self.seed, self.epoch, index, 1])  # its own stream: crops stay as they were
            if rng.random() < prob:
                wave = lowpass(wave, rng.uniform(lo, hi))
        return {"wave": torch.from_numpy(np.ascontiguousarray(wave)), "id": utt.id, "text": utt.text, "index": index,
                "start": start}


def collate(items: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Zero-pad waves to the longest in the batch; ``lengths`` holds the true lengths."""
    lengths = torch.tensor([len(it["wave"]) for it in items], dtype=torch.int64)  # (B,)
    wave = torch.zeros(len(items), int(lengths.max()), dtype=torch.float32)     # (B, S_max)
    for row, it in zip(wave, items):
        row[:len(it["wave"])] = it["wave"]
    return {
        "wave": wave,
        "lengths": lengths,
        "ids": [it["id"] for it in items],
        "texts": [it["text"] for it in items],
        "indices": torch.tensor([it["index"] for it in items], dtype=torch.int64),  # (B,)
        "starts": torch.tensor([it.get("start", 0) for it in items], dtype=torch.int64),  # (B,) crop offsets
    }
