"""Peer ASR engines that ``edge-ssl evaluate`` scores beside our models: pocketsphinx, Whisper tiny.en and base.

Each peer is a ``TextRecognizer`` (``edge_ssl.asr.transcribe``): it takes the same 16 kHz float wave that
``evaluate_manifest`` loads for our models and returns text, so the normalisation, the jiwer metrics and the
results.jsonl/summary.json are the very same code for both. Both engines run offline from what their
PyPI packages ship; they are the optional extra ``peers`` (``pip install -e ".[peers]"``).
"""
from __future__ import annotations

import importlib
import logging
import math
from types import ModuleType

import numpy as np

from edge_ssl.errors import EdgeSSLError

ENGINES = ("pocketsphinx", "whisper-tiny.en", "whisper-base")


def _require(module: str, package: str, engine: str) -> ModuleType:
    try:
        return importlib.import_module(module)
    except ImportError as e:
        raise EdgeSSLError(f"engine {engine}: Python package {package} is not installed ({e}); install the "
                           "extra: pip install -e '.[peers]' (or make install)") from None


class PocketSphinx:
    """CMU pocketsphinx with the en-us acoustic model, language model and dictionary its wheel ships."""

    sample_rate = 16000
    decoder = "pocketsphinx 5 en-us default model"

    def __init__(self) -> None:
        ps = _require("pocketsphinx", "pocketsphinx", "pocketsphinx")
        self._ps = ps.Decoder(samprate=self.sample_rate, loglevel="FATAL")  # its INFO log is hundreds of lines

    def transcribe(self, wave: np.ndarray) -> str:
        """wave (S,) float32 in [-1, 1] at 16 kHz -> text. pocketsphinx reads 16-bit PCM."""
        pcm = (np.clip(wave, -1.0, 1.0) * 32767).astype("<i2")  # (S,) int16
        self._ps.start_utt()
        self._ps.process_raw(pcm.tobytes(), full_utt=True)  # whole utterance: cepstral mean over all of it
        self._ps.end_utt()
        hyp = self._ps.hyp()
        return hyp.hypstr if hyp is not None else ""


class Whisper:
    """Whisper (``tiny.en`` or multilingual ``base``) as CTranslate2 int8, run by faster-whisper on the models
    that PyPI packages ship (``edge_ssl.asr.evaluate.whisper_models``).

    Decoding is fixed so runs repeat exactly: temperature 0 only (no sampled fallback), no VAD filter, no
    timestamps, no conditioning on earlier text, language forced to English. ``beam_size`` 5 is Whisper's
    own default decoding.
    """

    sample_rate = 16000

    def __init__(self, name: str = "tiny.en", threads: int = 2, beam_size: int = 5) -> None:
        engine = f"whisper-{name}"
        fw = _require("faster_whisper", "faster-whisper", engine)
        from edge_ssl.asr.evaluate.whisper_models import whisper_model_dir

        path = whisper_model_dir(name)
        self.beam_size = beam_size
        self.decoder = f"whisper {name} ctranslate2 int8, beam {beam_size}"
        self._model = fw.WhisperModel(str(path), device="cpu", compute_type="int8", cpu_threads=threads)
        logging.getLogger("faster_whisper").setLevel(logging.WARNING)  # it logs one INFO line per utterance

    def transcribe_scored(self, wave: np.ndarray) -> tuple[str, float]:
        """wave (S,) float32 at 16 kHz -> (text, confidence): exp of the mean token log-probability."""
        segments, _ = self._model.transcribe(
            wave, language="en", beam_size=self.beam_size, temperature=0.0, vad_filter=False,
            without_timestamps=True, condition_on_previous_text=False)
        segments = list(segments)  # a generator: decoding happens here
        text = " ".join(s.text.strip() for s in segments)
        tokens = sum(max(len(s.tokens), 1) for s in segments)
        logprob = sum(s.avg_logprob * max(len(s.tokens), 1) for s in segments) / tokens if segments else -math.inf
        return text, math.exp(logprob)

    def transcribe(self, wave: np.ndarray) -> str:
        """wave (S,) float32 at 16 kHz -> text."""
        return self.transcribe_scored(wave)[0]


def open_peer(engine: str, threads: int = 2, beam_size: int = 5) -> PocketSphinx | Whisper:
    """The peer engine named ``engine`` (one of ``ENGINES``); a missing package is an EdgeSSLError."""
    if engine == "pocketsphinx":
        return PocketSphinx()  # single-threaded by design
    if engine.startswith("whisper-") and engine in ENGINES:
        return Whisper(engine.removeprefix("whisper-"), threads=threads, beam_size=beam_size)
    raise EdgeSSLError(f"unknown engine {engine!r}; choose one of {', '.join(ENGINES)}")
