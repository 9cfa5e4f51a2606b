"""Teacher features cached on disk for distillation: computed once (fp16, memory-mapped), reused every epoch.

A Whisper teacher costs far more than the student it teaches, so distillation reads its target layers from
a cache instead of rerunning it. One cache folder per (teacher weights, target layers, audio):

    <root>/<key>/features.f16   (total_frames, N, D) fp16, raw: every utterance's frames for the N layers
    <root>/<key>/index.json     ids, offsets and frame counts, in manifest order
    <root>/<key>/meta.json      what the key was made from; "complete" once every utterance is in
    <root>/<key>/done.bin       one byte per utterance, set when its frames are on disk (resume after a kill)

``key`` hashes the teacher file's sha256, the layers, and each utterance's id, audio path, length, file size
and mtime, so a change to any of them makes a new cache; opening a folder whose meta.json disagrees with
the current inputs (a stale or foreign cache) is an error, never a silent reuse.
"""
from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from edge_ssl.data.manifest import Utterance
from edge_ssl.errors import EdgeSSLError
from edge_ssl.atomic import atomic_write_text, file_sha256

log = logging.getLogger(__name__)

VERSION = 1


class StaleCacheError(EdgeSSLError):
    """A cache folder does not belong to the current teacher, layers or audio."""


def _audio_fingerprint(utts: list[Utterance]) -> str:
    h = hashlib.sha256()
    for u in utts:
        st = u.audio_path.stat()
        h.update(f"{u.id}\0{u.audio_path}\0{u.num_samples}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return h.hexdigest()


@dataclass
class TeacherCache:
    """A complete cache, open for reading. ``frames(id, start, count)`` -> (count', N, D) float32."""

    folder: Path
    features: np.memmap              # (total_frames, N, D) fp16
    offsets: dict[str, tuple[int, int]]  # id -> (first row, frames)
    layers: list[int]

    def frames(self, utt_id: str, start: int, count: int) -> torch.Tensor:
        """Up to ``count`` frames from frame ``start`` of ``utt_id`` (fewer at the end of the utterance)."""
        if utt_id not in self.offsets:
            raise StaleCacheError(f"{self.folder}: utterance {utt_id!r} is not in the teacher cache")
        first, n = self.offsets[utt_id]
        start = min(start, n)
        rows = self.features[first + start:first + min(start + count, n)]     # (T, N, D) fp16
        return torch.from_numpy(np.asarray(rows, dtype=np.float32))


def cache_key(teacher_sha: str, layers: list[int], audio: str) -> str:
    return hashlib.sha256(f"v{VERSION}|{teacher_sha}|{layers}|{audio}".encode()).hexdigest()[:16]


def _teacher_frames(teacher, wave: torch.Tensor, layers: list[int]) -> torch.Tensor:
    """One utterance (1, S) -> (T, N, D): the teacher's target layers, cropped to its frame count."""
    out = teacher.extract_features(wave, None, num_layers=max(layers))
    n = int(teacher.frame_lengths(torch.tensor([wave.shape[1]]))[0])
    feats = torch.stack([out.hidden_states[k][0] for k in layers], dim=1)  # (T_out, N, D)
    if feats.shape[0] < n:
        raise EdgeSSLError(f"teacher gave {feats.shape[0]} frames for {wave.shape[1]} samples, expected {n}")
    return feats[:n]


@torch.no_grad()
def build_cache(teacher, teacher_path: str | Path, layers: list[int], utts: list[Utterance],
                root: str | Path) -> TeacherCache:
    """Compute (or resume, or reuse) the cache of ``teacher``'s ``layers`` over ``utts``; returns it open.

    ``teacher``: a SpeechEncoder in eval mode (``extract_features``, ``frame_lengths``, ``embed_dim``)."""
    from edge_ssl.audio.io import load_audio

    layers = [int(k) for k in layers]
    meta = {"version": VERSION, "teacher": str(teacher_path), "teacher_sha256": file_sha256(teacher_path),
            "layers": layers, "audio_sha256": _audio_fingerprint(utts), "utterances": len(utts),
            "dim": int(teacher.embed_dim)}
    folder = Path(root) / cache_key(meta["teacher_sha256"], layers, meta["audio_sha256"])
    frames = [int(f) for f in teacher.frame_lengths(torch.tensor([u.num_samples for u in utts]))]
    offsets = np.concatenate([[0], np.cumsum(frames)]).tolist()
    shape = (offsets[-1], len(layers), meta["dim"])
    meta["shape"] = list(shape)
    meta_path = folder / "meta.json"
    if meta_path.is_file():
        old = json.loads(meta_path.read_text())
        if {k: old.get(k) for k in meta} != meta:
            diff = [k for k in meta if old.get(k) != meta[k]]
            raise StaleCacheError(f"{folder}: teacher cache made from other inputs ({', '.join(diff)} differ); "
                                  "delete the folder to rebuild it")
        if old.get("complete"):
            return open_cache(folder)
    folder.mkdir(parents=True, exist_ok=True)
    atomic_write_text(meta_path, json.dumps({**meta, "complete": False}, indent=2) + "\n")
    atomic_write_text(folder / "index.json", json.dumps(
        {"ids": [u.id for u in utts], "offsets": offsets[:-1], "frames": frames}) + "\n")
    mode = "r+" if (folder / "features.f16").is_file() else "w+"
    feats = np.memmap(folder / "features.f16", dtype=np.float16, mode=mode, shape=shape)
    done_path = folder / "done.bin"
    done = np.fromfile(done_path, dtype=np.uint8) if done_path.is_file() else np.zeros(len(utts), np.uint8)
    todo = [i for i in range(len(utts)) if not done[i]]
    for n, i in enumerate(tqdm(todo, desc="teacher features", unit="utt", initial=len(utts) - len(todo),
                               total=len(utts), dynamic_ncols=True)):
        u = utts[i]
        wave = torch.from_numpy(load_audio(u.audio_path))[None]  # (1, S)
        if wave.shape[1] != u.num_samples:
            raise EdgeSSLError(f"{u.audio_path}: {wave.shape[1]} samples, the manifest says {u.num_samples}")
        feats[offsets[i]:offsets[i + 1]] = _teacher_frames(teacher, wave, layers).numpy().astype(np.float16)
        done[i] = 1
        if n % 50 == 49 or n == len(todo) - 1:  # features first, then the marks that say they are there
            feats.flush()
            done.tofile(done_path)
    feats.flush()
    del feats
    atomic_write_text(meta_path, json.dumps({**meta, "complete": True}, indent=2) + "\n")
    log.info("teacher features for %d utterances (%d frames, layers %s) -> %s", len(utts), shape[0], layers, folder)
    return open_cache(folder)


def open_cache(folder: str | Path) -> TeacherCache:
    """Open a complete cache folder read-only (memory-mapped)."""
    folder = Path(folder)
    meta_path = folder / "meta.json"
    if not meta_path.is_file():
        raise EdgeSSLError(f"{folder}: not a teacher cache (no meta.json)")
    meta = json.loads(meta_path.read_text())
    if not meta.get("complete"):
        raise StaleCacheError(f"{folder}: teacher cache is incomplete (a build was interrupted); rerun to finish it")
    index = json.loads((folder / "index.json").read_text())
    shape = tuple(meta["shape"])
    expected = int(np.prod(shape)) * 2
    size = (folder / "features.f16").stat().st_size
    if size != expected:
        raise StaleCacheError(f"{folder}/features.f16: {size} bytes, meta.json says {expected}")
    feats = np.memmap(folder / "features.f16", dtype=np.float16, mode="r", shape=shape)
    offsets = {i: (o, f) for i, o, f in zip(index["ids"], index["offsets"], index["frames"])}
    return TeacherCache(folder, feats, offsets, meta["layers"])
