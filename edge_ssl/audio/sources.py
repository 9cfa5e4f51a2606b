"""Live audio sources: a microphone (PortAudio via sounddevice) and a file replayed as if it were one.

Both work the same way: a producer (PortAudio's recorder callback, or a replay thread pacing the file at
``speed`` x real time) puts blocks at the device's native rate into a bounded queue and returns at once;
the consumer iterates ``Chunk``s, converted to float32 mono and resampled to the model's rate by a
streaming soxr resampler (bit-exact with resampling the whole recording in one go). Nothing slow ever
runs in the callback. A full queue means the consumer fell behind: the block is dropped and its frames counted.
PortAudio's own input overflows are counted too.
"""
from __future__ import annotations

import logging
import queue
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np
import soxr

from edge_ssl.audio.io import AudioError, audio_info
from edge_ssl.errors import EdgeSSLError

log = logging.getLogger(__name__)

PORTAUDIO_HINT = "PortAudio is missing: install it with `apt-get install libportaudio2` (Debian/Ubuntu) " \
                 "or `brew install portaudio` (macOS)"


@dataclass
class Chunk:
    samples: np.ndarray  # (N,) float32 mono at the source's ``sample_rate``
    arrived: float       # time.monotonic() when its last sample was captured (released, for a file)


class _QueueSource:
    """Bounded queue between a producer thread and the consumer; conversion and resampling on the consumer side."""

    _END = object()

    def __init__(self, in_rate: int, sample_rate: int, max_queue_seconds: float = 60.0, block: int = 1024):
        self.in_rate = int(in_rate)
        self.sample_rate = int(sample_rate)
        self.block = block
        self.queue: queue.Queue = queue.Queue(maxsize=max(int(max_queue_seconds * in_rate / block), 2))
        self.dropped = 0    # input frames dropped because the consumer fell behind (the queue was full)
        self.overflows = 0  # PortAudio input overflows (the OS buffer overran before the callback ran)
        self.captured = 0   # input frames handed to the queue
        self.received = 0   # input frames delivered by the producer, queued or dropped
        self.resampler = None if self.in_rate == self.sample_rate else \
            soxr.ResampleStream(self.in_rate, self.sample_rate, 1, dtype="float32", quality="HQ")

    def _push(self, block: np.ndarray, arrived: float) -> None:
        """Producer side (may be PortAudio's thread): never blocks."""
        try:
            self.queue.put_nowait((block, arrived))
            self.captured += len(block)
        except queue.Full:
            self.dropped += len(block)

    def _end(self) -> None:
        """Queue the end marker without blocking; if the queue is full, the oldest block makes room."""
        while True:
            try:
                self.queue.put_nowait(self._END)
                return
            except queue.Full:
                try:
                    item = self.queue.get_nowait()
                    self.dropped += 0 if item is self._END else len(item[0])
                except queue.Empty:
                    pass

    def _convert(self, block: np.ndarray, last: bool = False) -> np.ndarray:
        x = block.astype(np.float32) / 32768.0 if block.dtype == np.int16 else block.astype(np.float32, copy=False)
        x = x.mean(axis=1) if x.ndim == 2 else x  # (n,) mono
        if self.resampler is None:
            return np.ascontiguousarray(x)
        return self.resampler.resample_chunk(np.ascontiguousarray(x), last=last)

    def _take(self) -> tuple[list, bool]:
        """The next block, plus any already waiting behind it (up to ~1 s): a consumer that fell behind
        catches up in bigger chunks instead of paying per-chunk overhead on each small block."""
        items, ended = [self.queue.get()], False
        while items[-1] is not self._END and sum(len(b) for b, _ in items) < self.in_rate:
            try:
                items.append(self.queue.get_nowait())
            except queue.Empty:
                break
        if items[-1] is self._END:
            items.pop()
            ended = True
        return items, ended

    def __iter__(self) -> Iterator[Chunk]:
        while True:
            items, ended = self._take()
            if items:
                out = self._convert(np.concatenate([b for b, _ in items]))
                arrived = items[-1][1]  # when the chunk's last sample came in
                if len(out):
                    yield Chunk(out, time.monotonic() if arrived is None else arrived)
            if ended:
                if self.resampler is not None:
                    tail = self._convert(np.zeros(0, np.float32), last=True)
                    if len(tail):
                        yield Chunk(tail, time.monotonic())
                return


class FileSource(_QueueSource):
    """Replays an audio file (any rate, any channel count) in ``block``-frame pieces at ``speed`` x real time.

    ``speed=0`` releases blocks as fast as the consumer takes them (nothing is dropped); otherwise the
    replay behaves like a microphone: it never waits for the consumer, and blocks that find the queue full
    are dropped and counted. The iterator ends after the last sample (end of stream).
    """

    def __init__(self, path: str | Path, sample_rate: int = 16000, speed: float = 1.0, block: int = 512,
                 max_queue_seconds: float = 60.0):
        import soundfile as sf

        audio_info(path)  # the same checks and messages as every other reader
        self.path = Path(path)
        info = sf.info(str(self.path))
        super().__init__(info.samplerate, sample_rate, max_queue_seconds, block)
        self.frames, self.speed = info.frames, speed
        self.thread = threading.Thread(target=self._replay, name="file-replay", daemon=True)
        self.stopped = threading.Event()
        self.error: Exception | None = None

    @property
    def duration(self) -> float:
        return self.frames / self.in_rate

    def _replay(self) -> None:
        """Reads the file block by block (memory stays flat however long it is) and releases each on time."""
        import soundfile as sf

        t0, pos = time.monotonic(), 0
        try:
            with sf.SoundFile(str(self.path)) as f:
                for block in f.blocks(self.block, dtype="float32", always_2d=True):  # (n, C)
                    if self.stopped.is_set():
                        return
                    if not np.isfinite(block).all():  # the header cannot show it; the model must never see it
                        bad = pos + int(np.flatnonzero(~np.isfinite(block).all(axis=1))[0])
                        self.error = AudioError(f"{self.path}: contains NaN or infinite samples at "
                                                f"{bad / self.in_rate:.2f} s")
                        break
                    pos += len(block)
                    if self.speed > 0:
                        time.sleep(max(t0 + pos / (self.in_rate * self.speed) - time.monotonic(), 0.0))
                        self._push(block, time.monotonic())
                    else:
                        self.queue.put((block, None))  # unpaced: the block "arrives" when the consumer takes it
                        self.captured += len(block)
        except (sf.LibsndfileError, RuntimeError) as e:
            self.error = AudioError(f"{self.path}: corrupt audio data ({e})")
        if not self.stopped.is_set():
            self.queue.put(self._END)  # after every block: the replay never drops at the end

    def __iter__(self) -> Iterator[Chunk]:
        yield from super().__iter__()
        if self.error is not None:
            raise self.error

    def __enter__(self) -> "FileSource":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stopped.set()
        while self.thread.is_alive():  # unblock a producer waiting on a full queue
            try:
                self.queue.get_nowait()
            except queue.Empty:
                time.sleep(0.01)
        self.thread.join()


# ---- microphone ----

def import_sounddevice():
    """``import sounddevice`` with a clear message: without libportaudio2 it raises OSError, not ImportError."""
    try:
        import sounddevice as sd
    except OSError as e:
        raise EdgeSSLError(f"{PORTAUDIO_HINT} ({e})") from None
    except ImportError:
        raise EdgeSSLError("the sounddevice package is missing: pip install sounddevice") from None
    return sd


def list_input_devices() -> list[dict]:
    """[{index, name, hostapi, channels, default_samplerate, default}] for every device with inputs."""
    sd = import_sounddevice()
    try:
        default = sd.default.device[0]
        devices = sd.query_devices()
    except sd.PortAudioError as e:
        raise EdgeSSLError(f"PortAudio could not list audio devices ({e})") from None
    return [{"index": d["index"], "name": d["name"], "hostapi": sd.query_hostapis(d["hostapi"])["name"],
             "channels": d["max_input_channels"], "default_samplerate": d["default_samplerate"],
             "default": d["index"] == default}
            for d in devices if d["max_input_channels"] > 0]


def format_devices(devices: list[dict]) -> str:
    if not devices:
        return "  (none: no input device found)"
    return "\n".join(f"{'*' if d['default'] else ' '} {d['index']:3d} {d['name']} ({d['hostapi']}, "
                     f"{d['channels']} in, {d['default_samplerate']:.0f} Hz)" for d in devices)


def resolve_input_device(device: int | str | None) -> dict:
    """A device index, a name substring or None (the default) -> its entry; a clear error listing the devices."""
    devices = list_input_devices()
    listing = "available input devices:\n" + format_devices(devices)
    if not devices:
        raise EdgeSSLError(f"no audio input device found (is a microphone connected?)\n{listing}")
    if device is None:
        chosen = [d for d in devices if d["default"]] or devices[:1]
    elif isinstance(device, int) or str(device).isdigit():
        chosen = [d for d in devices if d["index"] == int(device)]
    else:
        chosen = [d for d in devices if str(device).lower() in d["name"].lower()]
    if len(chosen) != 1:
        what = "matches several input devices" if chosen else "is not an input device"
        raise EdgeSSLError(f"--device {device!r} {what}\n{listing}")
    return chosen[0]


class MicSource(_QueueSource):
    """Microphone capture at the device's native rate, int16 mono, resampled to ``sample_rate``.

    ``max_seconds`` stops the capture after that much audio (the recorder callback stops the stream).
    """

    def __init__(self, device: int | str | None = None, sample_rate: int = 16000, block_seconds: float = 0.032,
                 max_seconds: float | None = None, max_queue_seconds: float = 60.0):
        self.sd = import_sounddevice()
        self.device = resolve_input_device(device)
        rate = int(self.device["default_samplerate"])
        super().__init__(rate, sample_rate, max_queue_seconds, max(round(block_seconds * rate), 1))
        self.limit = None if max_seconds is None else round(max_seconds * rate)
        self.stream = None

    def _callback(self, indata, frames, time_info, status) -> None:
        if status.input_overflow:
            self.overflows += 1
        block = indata.copy()  # PortAudio reuses its buffer
        if self.limit is not None:
            block = block[:max(self.limit - self.received, 0)]
        self.received += len(block)
        if len(block):
            self._push(block, time.monotonic())
        if self.limit is not None and self.received >= self.limit:
            self._end_once()
            raise self.sd.CallbackStop

    def _end_once(self) -> None:
        if not getattr(self, "_ended", False):
            self._ended = True
            self._end()

    def __enter__(self) -> "MicSource":
        sd = self.sd
        try:
            self.stream = sd.InputStream(device=self.device["index"], samplerate=self.in_rate, channels=1,
                                         dtype="int16", blocksize=self.block, callback=self._callback,
                                         finished_callback=self._end_once)
            self.stream.start()
        except sd.PortAudioError as e:
            raise EdgeSSLError(f"cannot open input device {self.device['index']} ({self.device['name']}) at "
                               f"{self.in_rate} Hz: {e}\navailable input devices:\n"
                               f"{format_devices(list_input_devices())}") from None
        return self

    def __exit__(self, *exc) -> None:
        if self.stream is not None:
            self.stream.abort()  # finished_callback puts the end marker
            self.stream.close()


def make_virtual_microphone(folder: str | Path, wave: np.ndarray, sample_rate: int) -> Path:
    """A sound-card-free microphone: ALSA's ``file`` plugin serving ``wave`` as the default input device.

    Writes ``folder/in.raw`` (int16: PortAudio reads float32 wrongly through this plugin) and
    ``folder/.asoundrc``; run with ``HOME=folder`` (inside a process: set HOME, then
    ``sd._terminate(); sd._initialize()``). The device reports ``sample_rate`` as its native rate.
    Reads are not paced, and reading past the end returns garbage, so stop after ``len(wave)`` samples.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    raw = folder / "in.raw"
    np.round(np.clip(wave, -1.0, 32767 / 32768) * 32768).astype("<i2").tofile(raw)
    (folder / ".asoundrc").write_text(
        f'pcm.!default {{ type plug; slave {{ pcm "filein"; format S16_LE; rate {int(sample_rate)}; channels 1 }} }}\n'
        f'pcm.filein {{ type file; slave.pcm "nullpcm"; file "/dev/null"; infile "{raw}"; format "raw" }}\n'
        'pcm.nullpcm { type null }\n')
    return folder
