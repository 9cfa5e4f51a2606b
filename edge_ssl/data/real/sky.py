"""Beneath a Steel Sky (CD version, Debian package ``beneath-a-steel-sky``): its voice clips as 16 kHz WAV.

The game is freeware (Revolution Software; redistributable with /usr/share/doc/beneath-a-steel-sky/copyright),
and its CD release carries ~2 h of studio-recorded English voice. The readers below were written from the
package's own bytes (no game-engine code was consulted). What the bytes show:

``sky.dnr`` - the index of ``sky.dsk``: u32 LE entry count, then 8 bytes per entry, in disk order::

    0  u16 LE  file number
    2  u24 LE  offset into sky.dsk; if bit 23 is set, bits 0-22 count 16-byte units (files past 8 MB)
    5  u24 LE  bits 0-21: bytes stored in sky.dsk; bit 22: the unpacked size excludes the 22-byte
               header; bit 23: used as stored, not unpacked (most such files have no header)

Files lie back to back in entry order (16-byte aligned in the 16-byte-unit part).

A file in ``sky.dsk`` (unless dnr bit 23) starts with a 22-byte header: byte 0 flags (bit 7 set on packed files),
byte 1 bits 16-23 and bytes 12-13 (u16 LE) bits 0-15 of the unpacked size, counting the header itself
unless dnr bit 22 is set; the other bytes describe sprites and are junk in sound files. A packed file
carries an RNC ProPack method-1 file ("RNC\\x01" + sizes + CRC16s, see ``rnc.py``) right after it.

Voice: every sound file is packed 8-bit unsigned PCM at 11,025 Hz with no header inside the payload
(it starts on silence, 0x80). 50000-55277 are the 3,491 dialogue lines. 59494-59672 are the intro
sequence: screens, palettes and animations (dnr bit 22 or 23 set) and 94 sound files, of which
59494-59499 are sound effects and the 88 from 59500 on are its narration and voices (checked with
Whisper tiny.en: every one of those transcribes to a line of the intro, the first six to nothing).
60000+ are engine data (fonts, text, screens, sound effects) and are left out.

Speakers: nothing found in the package ties a line to a character. No section or character field
could be read from the numbers (they are not section-blocked: the disk stores them interleaved), and
the game's text (60600-60663, 8 languages x 8 sections) is Huffman-coded with a tree that is not
stored with it, so neither the line text (no ``game_text``) nor its section could be recovered.
sky.cpt (the engine's object data) was not decoded. So every clip gets ``speaker="sky:unknown"``:
a multi-speaker corpus (many characters) whose labels are unknown.
"""
from __future__ import annotations

import logging
import struct
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
import soxr

from edge_ssl.audio.io import SAMPLE_RATE, AudioError, audio_info, resampled_length, save_wav
from edge_ssl.data.manifest import Utterance
from edge_ssl.data.prepare import PrepareReport
from edge_ssl.data.real import rnc
from edge_ssl.errors import EdgeSSLError

log = logging.getLogger(__name__)

GAME_DIR = Path("/usr/share/scummvm/beneath-a-steel-sky")
MISSING = "beneath-a-steel-sky is not installed: apt-get install beneath-a-steel-sky"

DIALOGUE = range(50000, 59000)
INTRO = range(59500, 60000)  # its sound files (dnr flags 0): narration; 59494-59499 are effects
ORIG_SR = 11025
HEADER_SIZE = 22
MIN_SECONDS = 0.3
SILENT_PEAK = 2  # |sample - 128| at most this everywhere: silence (8-bit dither), not speech

_DNR_HEAD = 4
_DNR_ENTRY = 8
_UNITS_16 = 1 << 23      # dnr offset: counted in 16-byte units
_NO_HEADER_OUT = 1 << 22  # dnr flags: unpacked size excludes the 22-byte header
_RAW = 1 << 23            # dnr flags: stored as-is, no header
_SIZE_MASK = (1 << 22) - 1
_PACKED = 0x80            # header byte 0


class SkyError(EdgeSSLError):
    """sky.dnr or a file in sky.dsk is malformed. The message names the file and what is wrong."""


@dataclass(frozen=True)
class Entry:
    number: int
    offset: int  # bytes into sky.dsk
    size: int    # bytes stored there
    flags: int   # dnr bits 22-23 (_NO_HEADER_OUT, _RAW)


def read_dnr(path: Path) -> list[Entry]:
    """The index entries of ``sky.dnr``, in disk order."""
    data = Path(path).read_bytes()
    if len(data) < _DNR_HEAD:
        raise SkyError(f"{path}: {len(data)} bytes, too short for the 4-byte entry count")
    (count,) = struct.unpack_from("<I", data)
    if len(data) != _DNR_HEAD + count * _DNR_ENTRY:
        raise SkyError(f"{path}: declares {count} entries ({_DNR_HEAD + count * _DNR_ENTRY} bytes), "
                       f"file has {len(data)} bytes")
    entries = []
    for i in range(count):
        e = data[_DNR_HEAD + i * _DNR_ENTRY:_DNR_HEAD + (i + 1) * _DNR_ENTRY]
        number = e[0] | e[1] << 8
        offset = e[2] | e[3] << 8 | e[4] << 16
        if offset & _UNITS_16:
            offset = (offset & (_UNITS_16 - 1)) << 4
        size_flags = e[5] | e[6] << 8 | e[7] << 16
        entries.append(Entry(number, offset, size_flags & _SIZE_MASK, size_flags & ~_SIZE_MASK))
    return entries


def unpack_file(stored: bytes, entry: Entry, where: str) -> bytes:
    """The payload of one stored file: unpacked, without its 22-byte header."""
    if entry.flags & _RAW:
        return stored
    if len(stored) < HEADER_SIZE:
        raise SkyError(f"{where}: {len(stored)} bytes, too short for the {HEADER_SIZE}-byte file header")
    head = stored[:HEADER_SIZE]
    total = head[1] << 16 | head[12] | head[13] << 8
    size = total if entry.flags & _NO_HEADER_OUT else total - HEADER_SIZE
    if size < 0:
        raise SkyError(f"{where}: header declares {total} bytes, less than the header itself")
    body = stored[HEADER_SIZE:]
    if body[:3] == b"RNC":
        payload = rnc.unpack(body, where)
    elif head[0] & _PACKED and len(stored) != total:
        payload = rnc.unpack_stream(body, size, where)  # headerless RNC stream: no CRCs to check
    else:
        payload = body
    if len(payload) != size:
        raise SkyError(f"{where}: header declares {size} payload bytes, got {len(payload)}")
    return payload


def read_file(game_dir: Path, number: int) -> bytes:
    """The unpacked payload of file ``number`` (any kind: speech, text, sprites) from ``game_dir``."""
    entries = {e.number: e for e in read_dnr(Path(game_dir) / "sky.dnr")}
    if number not in entries:
        raise SkyError(f"{Path(game_dir) / 'sky.dnr'}: no file number {number}")
    with open(Path(game_dir) / "sky.dsk", "rb") as dsk:
        return _load(dsk, entries[number], Path(game_dir))


def _load(dsk: BinaryIO, entry: Entry, game_dir: Path) -> bytes:
    where = f"{game_dir / 'sky.dsk'} file {entry.number}"
    dsk.seek(entry.offset)
    stored = dsk.read(entry.size)
    if len(stored) != entry.size:
        raise SkyError(f"{where}: truncated: sky.dnr says {entry.size} bytes at offset {entry.offset}, "
                       f"{len(stored)} present")
    return unpack_file(stored, entry, where)


def is_voice(entry: Entry) -> bool:
    """A dialogue line, or a narration clip of the intro (whose screens and palettes carry dnr flags)."""
    return entry.number in DIALOGUE or (entry.number in INTRO and entry.flags == 0)


def pcm_to_16k(pcm: bytes) -> np.ndarray:
    """8-bit unsigned 11,025 Hz PCM -> float32 16 kHz, soxr HQ, exactly ``resampled_length`` samples."""
    wave = (np.frombuffer(pcm, dtype=np.uint8).astype(np.float32) - 128.0) / 128.0
    out = soxr.resample(wave, ORIG_SR, SAMPLE_RATE, quality="HQ").astype(np.float32, copy=False)
    n = resampled_length(len(wave), ORIG_SR)
    return out[:n] if len(out) >= n else np.pad(out, (0, n - len(out)))


def _problem(pcm: bytes) -> str | None:
    if len(pcm) < MIN_SECONDS * ORIG_SR:
        return f"too short: {len(pcm) / ORIG_SR:.2f} s (< {MIN_SECONDS} s)"
    peak = int(np.abs(np.frombuffer(pcm, dtype=np.uint8).astype(np.int16) - 128).max())
    if peak <= SILENT_PEAK:
        return f"silent: peak {peak}/128"
    return None


def _utterance(number: int, wav: Path, num_samples: int) -> Utterance:
    extra = {"source": "sky", "lang": "en", "duration": round(num_samples / SAMPLE_RATE, 3), "orig_sr": ORIG_SR,
             "part": "dialogue" if number in DIALOGUE else "intro"}
    return Utterance(f"sky/{number}", wav.resolve(), num_samples, None, "sky:unknown", extra)


def extract(out_dir: Path, report: PrepareReport, game_dir: Path = GAME_DIR,
            numbers: Collection[int] | None = None, progress: bool = True) -> list[Utterance]:
    """Write every voice clip (dialogue, intro) as ``out_dir/sky/audio/<number>.wav``, 16 kHz mono PCM_16.

    Resumable: a clip whose wav is already there (and readable) is not unpacked again. ``numbers``
    limits the run to those file numbers. Bad, too short (< 0.3 s) or silent clips are reported on
    ``report`` and skipped.
    """
    game_dir = Path(game_dir)
    dnr, dsk = game_dir / "sky.dnr", game_dir / "sky.dsk"
    if not dnr.is_file() or not dsk.is_file():
        raise EdgeSSLError(MISSING)
    audio_dir = Path(out_dir) / "sky" / "audio"
    wanted = [e for e in read_dnr(dnr) if is_voice(e) and (numbers is None or e.number in numbers)]
    wanted.sort(key=lambda e: e.number)
    try:
        from tqdm import tqdm
        items = tqdm(wanted, desc="sky", unit="clip", disable=not progress)
    except ImportError:
        items = wanted
    utts: list[Utterance] = []
    with open(dsk, "rb") as f:
        for entry in items:
            wav = audio_dir / f"{entry.number}.wav"
            name = f"{dsk} file {entry.number}"
            if wav.is_file():
                try:
                    utts.append(_utterance(entry.number, wav, audio_info(wav)[0]))
                    continue
                except AudioError as e:
                    log.warning("re-extracting %s: %s", wav, e)
            try:
                pcm = _load(f, entry, game_dir)
            except EdgeSSLError as e:
                report.skip(name, str(e).removeprefix(f"{name}: "))
                continue
            problem = _problem(pcm)
            if problem:
                report.skip(name, problem)
                continue
            wave = pcm_to_16k(pcm)
            save_wav(wav, wave)
            utts.append(_utterance(entry.number, wav, len(wave)))
    if not utts and wanted:
        log.warning("%s: no usable voice clip among %d", dsk, len(wanted))
    return utts
