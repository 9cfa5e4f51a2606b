"""Real recordings from Debian packages -> 16 kHz mono WAV + JSONL manifests (``edge-ssl prepare real``).

Each source is a module (or a function of one) exposing ``extract(out_dir, report) -> list[Utterance]``
that writes ``out_dir/<source>/audio/<clip>.wav`` and returns the manifest rows; ``corpus.py`` runs them
and makes the splits. Sources are imported lazily so that one missing or broken reader stops only itself.

The shared clip writer lives here: a source lists ``Clip`` jobs (where the encoded bytes are, where the
wav goes), ``convert_clips`` decodes them on a process pool, resamples with soxr, drops too-short and
silent clips with a reason, and writes each wav atomically, so a re-run skips every wav already there.
"""
from __future__ import annotations

import importlib
import io
import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Sequence

import numpy as np

from edge_ssl.errors import EdgeSSLError

log = logging.getLogger(__name__)

# name -> "module" (its ``extract``) or "module:function"
SOURCES: dict[str, str] = {
    "queen": "edge_ssl.data.real.queen",
    "sky": "edge_ssl.data.real.sky",
    "hedgewars": "edge_ssl.data.real.extras:extract_hedgewars",
    "klettres": "edge_ssl.data.real.extras:extract_klettres",
    "ktuberling": "edge_ssl.data.real.extras:extract_ktuberling",
    "asterisk-fr": "edge_ssl.data.real.extras:extract_asterisk_fr",
    "asterisk-it": "edge_ssl.data.real.extras:extract_asterisk_it",
    "asterisk-ru": "edge_ssl.data.real.extras:extract_asterisk_ru",
}

SAMPLE_RATE = 16000
MIN_SECONDS = 0.3       # shorter clips are grunts and clicks, not speech worth a manifest row
SILENCE_DBFS = -50.0    # a clip whose loudest 25 ms frame is below this is silence (or a blank placeholder)


class MissingPackage(EdgeSSLError):
    """A source's Debian package is not installed. The message says what to ``apt-get install``."""


def missing(source: str, path: Path | str, package: str) -> MissingPackage:
    return MissingPackage(f"{source}: {path} not found; install it with: sudo apt-get install {package}")


def load_source(name: str) -> Callable:
    """The ``extract`` function of source ``name``; an unknown or unwritten source is a clear error."""
    if name not in SOURCES:
        raise EdgeSSLError(f"unknown real-audio source {name!r}; known: {', '.join(SOURCES)}")
    module, _, func = SOURCES[name].partition(":")
    try:
        mod = importlib.import_module(module)
    except ModuleNotFoundError as e:
        if e.name != module:
            raise
        raise EdgeSSLError(f"{name}: its reader {module} is not written yet (no such module)") from None
    if not hasattr(mod, func or "extract"):
        raise EdgeSSLError(f"{name}: {module} has no function {func or 'extract'}()")
    return getattr(mod, func or "extract")


# --- the shared clip writer ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Clip:
    """One clip to convert: encoded audio in ``path`` (the whole file, or ``size`` bytes at ``offset``)."""
    uid: str                  # manifest id, "<source>/<name>"
    path: Path                # the package's file (a container when size is set)
    out: Path                 # the 16 kHz wav to write
    offset: int = 0
    size: int | None = None   # None: the whole file

    def read(self) -> bytes | Path:
        if self.size is None:
            return self.path
        with open(self.path, "rb") as f:
            f.seek(self.offset)
            data = f.read(self.size)
        if len(data) != self.size:
            raise ValueError(f"truncated: {len(data)} of {self.size} bytes at offset {self.offset}")
        return data

    @property
    def where(self) -> str:
        return str(self.path) if self.size is None else f"{self.path}@{self.offset}+{self.size} ({self.uid})"


@dataclass(frozen=True)
class Converted:
    uid: str
    num_samples: int = 0      # at 16 kHz
    orig_sr: int = 0
    error: str | None = None  # why the clip was skipped

    @property
    def duration(self) -> float:
        return round(self.num_samples / SAMPLE_RATE, 3)


def _open(src: bytes | Path):
    return io.BytesIO(src) if isinstance(src, bytes) else str(src)


def _peak_frame_dbfs(wave: np.ndarray, sr: int) -> float:
    """Level of the loudest 25 ms frame (RMS, dB re full scale)."""
    hop = max(1, int(0.025 * sr))
    n = len(wave) // hop
    frames = wave[: n * hop].reshape(n, hop) if n else wave[None, :]
    rms = float(np.sqrt((frames.astype(np.float64) ** 2).mean(axis=1)).max())
    return 20 * math.log10(rms) if rms > 0 else -math.inf


def convert_clip(clip: Clip) -> Converted:
    """Decode, mix to mono, check length and level, resample to 16 kHz and write PCM_16 atomically.

    A wav already present is whole (atomic writes), so it is only measured: this is what makes re-runs
    resume. Never raises for a bad clip: the reason comes back in ``error``.
    """
    import soundfile as sf
    import soxr

    from edge_ssl.atomic import atomic_path

    try:
        src = clip.read()
        if clip.out.is_file():
            return Converted(clip.uid, sf.info(str(clip.out)).frames, sf.info(_open(src)).samplerate)
        data, sr = sf.read(_open(src), dtype="float32", always_2d=True)  # (S, C)
    except (sf.LibsndfileError, RuntimeError, ValueError, OSError) as e:
        return Converted(clip.uid, error=f"undecodable ({e})")
    if data.shape[0] == 0:
        return Converted(clip.uid, orig_sr=sr, error="empty audio (0 samples)")
    if not np.isfinite(data).all():
        return Converted(clip.uid, orig_sr=sr, error="NaN or infinite samples")
    wave = data.mean(axis=1)  # (S,)
    if len(wave) < MIN_SECONDS * sr:
        return Converted(clip.uid, orig_sr=sr, error=f"too short ({len(wave) / sr:.2f} s < {MIN_SECONDS} s)")
    level = _peak_frame_dbfs(wave, sr)
    if level < SILENCE_DBFS:
        return Converted(clip.uid, orig_sr=sr, error=f"silent (loudest 25 ms frame {level:.0f} dBFS)")
    if sr != SAMPLE_RATE:
        wave = soxr.resample(wave, sr, SAMPLE_RATE, quality="HQ")
    wave = np.clip(wave, -1.0, 1.0)  # MP3 decoding overshoots full scale a little
    with atomic_path(clip.out) as tmp:
        sf.write(str(tmp), wave, SAMPLE_RATE, subtype="PCM_16", format="WAV")
    return Converted(clip.uid, len(wave), sr)


def convert_clips(clips: Sequence[Clip], jobs: int = 1, desc: str = "clips",
                  skip: Callable[[str, str], None] | None = None) -> dict[str, Converted]:
    """Convert ``clips`` on ``jobs`` processes (1: in this process) with a progress bar.

    Returns {uid: Converted} for the clips written (or already there); each failure goes to
    ``skip(where, reason)``.
    """
    from tqdm import tqdm

    out: dict[str, Converted] = {}
    by_uid = {c.uid: c for c in clips}

    def take(results: Iterable[Converted]) -> None:
        for r in results:
            if r.error is None:
                out[r.uid] = r
            elif skip is not None:
                skip(by_uid[r.uid].where, r.error)
            bar.update(1)

    with tqdm(total=len(clips), unit="clip", desc=desc, leave=False) as bar:
        if jobs <= 1 or len(clips) < 2 * jobs:
            take(map(convert_clip, clips))
        else:
            import multiprocessing as mp
            # spawn: workers inherit no threads or locks from the caller (which may hold torch's pools)
            with mp.get_context("spawn").Pool(jobs, initializer=_one_thread) as pool:
                take(pool.imap_unordered(convert_clip, clips, chunksize=8))
    return out


def _one_thread() -> None:
    """Workers decode one clip at a time: extra BLAS/OpenMP threads only fight the other workers."""
    try:
        from threadpoolctl import threadpool_limits
        threadpool_limits(limits=1)
    except ImportError:
        pass
