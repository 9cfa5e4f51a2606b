"""Audio in and out: any wav/flac/ogg file -> float32 mono 16 kHz, with one clear error per bad file.

Every stage reads audio through ``load_audio`` so a corrupt file is reported the same way everywhere:
``AudioError: <file>: <what is wrong>``. ``audio_info`` answers the same questions from the header alone
(no decoding), which is what the preparers use to scan large corpora quickly.
"""
from __future__ import annotations

import logging
import struct
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from edge_ssl.errors import EdgeSSLError
from edge_ssl.atomic import atomic_path

log = logging.getLogger(__name__)

SAMPLE_RATE = 16000
MIN_SAMPLES = 400  # the conv front-end's receptive field: 25 ms at 16 kHz
AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".mp3")


class AudioError(EdgeSSLError):
    """An audio file is missing, unreadable, empty, corrupt or too short. The message names it."""


def resampled_length(num_samples: int, orig_sr: int, sample_rate: int = SAMPLE_RATE) -> int:
    """The length soxr produces for a whole signal: round-half-up of ``num_samples * sr / orig_sr``."""
    return (2 * num_samples * sample_rate + orig_sr) // (2 * orig_sr)


def _wav_truncation(path: Path) -> str | None:
    """For a RIFF/WAVE file, compare the declared data size with the bytes present.

    libsndfile silently reads a cut-off WAV as a shorter one; a download or copy that died half-way
    should be reported, not trained on.
    """
    size = path.stat().st_size
    with open(path, "rb") as f:
        head = f.read(12)
        if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            return None
        pos = 12
        while True:
            chunk = f.read(8)
            if len(chunk) < 8:
                return "no data chunk (truncated header)"
            cid, csize = chunk[:4], struct.unpack("<I", chunk[4:])[0]
            pos += 8
            if cid == b"data":
                # 0xFFFFFFFF / 0 are what streaming writers put before they know the size.
                if csize in (0, 0xFFFFFFFF):
                    return None
                missing = pos + csize - size
                return f"truncated: header declares {csize} data bytes, {csize - missing} present" \
                    if missing > 0 else None
            pos += csize + (csize & 1)
            f.seek(pos)


_OGG_MAX_PAGE = 27 + 255 + 255 * 255  # header + segment table + body: the largest an Ogg page can be


def _ogg_truncation(path: Path) -> str | None:
    """For an Ogg file (Vorbis, Opus, FLAC in Ogg), check that the last page is whole and ends the stream.

    libsndfile takes an Ogg file's length from the last granule position it finds, so a cut-off file reads
    as a shorter, valid one. A complete file ends with an end-of-stream page (header flag 0x04).
    """
    size = path.stat().st_size
    with open(path, "rb") as f:
        if f.read(4) != b"OggS":
            return None
        f.seek(max(0, size - _OGG_MAX_PAGE))
        tail = f.read()
    start = tail.rfind(b"OggS")
    while start >= 0 and (len(tail) - start < 27 or tail[start + 4] != 0):  # version 0; else payload bytes
        start = tail.rfind(b"OggS", 0, start)
    if start < 0:
        return "truncated: no complete Ogg page at the end"
    flags, segments = tail[start + 5], tail[start + 26]
    table = tail[start + 27:start + 27 + segments]
    end = start + 27 + segments + sum(table)
    if len(table) < segments or end > len(tail):
        return f"truncated: the last Ogg page is cut off ({len(tail) - start} of {end - start} bytes)"
    if not flags & 0x04:
        return "truncated: the Ogg stream has no end-of-stream page"
    return None


def _open_info(path: str | Path) -> tuple[Path, sf._SoundFileInfo]:
    path = Path(path)
    if not path.exists():
        raise AudioError(f"{path}: file not found")
    if not path.is_file():
        raise AudioError(f"{path}: not a file")
    if path.stat().st_size == 0:
        raise AudioError(f"{path}: empty file (0 bytes)")
    try:
        info = sf.info(str(path))
    except (sf.LibsndfileError, RuntimeError) as e:
        raise AudioError(f"{path}: not a readable audio file ({e})") from None
    if info.frames <= 0:
        raise AudioError(f"{path}: empty audio (0 samples)")
    if info.samplerate <= 0 or info.channels <= 0:
        raise AudioError(f"{path}: bad header (sample rate {info.samplerate}, {info.channels} channels)")
    problem = _wav_truncation(path) or _ogg_truncation(path)
    if problem:
        raise AudioError(f"{path}: {problem}")
    return path, info


def audio_info(path: str | Path, min_samples: int = MIN_SAMPLES) -> tuple[int, int, int]:
    """``(num_samples at 16 kHz, original sample rate, channels)`` from the header, without decoding.

    Raises ``AudioError`` for everything ``load_audio`` would reject that the header can show
    (missing, empty, non-audio, truncated WAV or Ogg, shorter than ``min_samples``).
    """
    path, info = _open_info(path)
    n = resampled_length(info.frames, info.samplerate)
    if n < min_samples:
        raise AudioError(f"{path}: too short: {n} samples at 16 kHz, need at least {min_samples} "
                         f"({min_samples / SAMPLE_RATE * 1000:.0f} ms, the model's receptive field)")
    return n, info.samplerate, info.channels


def load_audio(path: str | Path, sample_rate: int = SAMPLE_RATE, min_samples: int = MIN_SAMPLES) -> np.ndarray:
    """Decode ``path`` to a float32 mono wave at ``sample_rate``: channels are averaged, soxr resamples."""
    path, info = _open_info(path)
    try:
        data, sr = sf.read(str(path), dtype="float32", always_2d=True)  # (S, C)
    except (sf.LibsndfileError, RuntimeError) as e:
        raise AudioError(f"{path}: corrupt audio data ({e})") from None
    if data.shape[0] == 0:
        raise AudioError(f"{path}: empty audio (0 samples)")
    if data.shape[0] < info.frames:
        raise AudioError(f"{path}: truncated: header declares {info.frames} samples, decoded {data.shape[0]}")
    if not np.isfinite(data).all():
        raise AudioError(f"{path}: contains NaN or infinite samples")
    wave = data.mean(axis=1) if data.shape[1] > 1 else data[:, 0]  # (S,)
    if sr != sample_rate:
        wave = soxr.resample(wave, sr, sample_rate, quality="HQ").astype(np.float32, copy=False)
        n = resampled_length(data.shape[0], sr, sample_rate)
        wave = wave[:n] if len(wave) >= n else np.pad(wave, (0, n - len(wave)))
    if len(wave) < min_samples:
        raise AudioError(f"{path}: too short: {len(wave)} samples at {sample_rate} Hz, need at least "
                         f"{min_samples} ({min_samples / sample_rate * 1000:.0f} ms, the model's receptive field)")
    return np.ascontiguousarray(wave, dtype=np.float32)


def save_wav(path: str | Path, wave: np.ndarray, sample_rate: int = SAMPLE_RATE) -> None:
    """Write a mono float wave (clipped to [-1, 1]) as 16-bit PCM WAV, atomically."""
    wave = np.asarray(wave, dtype=np.float32)
    if wave.ndim != 1:
        raise ValueError(f"save_wav expects a mono (S,) wave, got shape {wave.shape}")
    if not np.isfinite(wave).all():
        raise AudioError(f"{path}: refusing to write NaN or infinite samples")
    with atomic_path(path) as tmp:
        sf.write(str(tmp), np.clip(wave, -1.0, 1.0), sample_rate, subtype="PCM_16", format="WAV")
