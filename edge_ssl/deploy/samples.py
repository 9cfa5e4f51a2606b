"""Sample inputs for benchmarks and tests: random-weight speech models of a given shape, and a small
labeled speech manifest spoken by espeak-ng (real audio for calibration when the user gives none)."""
from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import torch

from edge_ssl.errors import EdgeSSLError

SENTENCES = [
    "the quick brown fox jumps over the lazy dog", "she sells sea shells by the sea shore",
    "a small model runs on the phone", "seven green apples fell from the tree",
    "please call stella and ask her to bring these things", "the birch canoe slid on the smooth planks",
    "glue the sheet to the dark blue background", "it is easy to tell the depth of a well",
]


def random_ctc_model(path: str | Path, size: str = "tiny", seed: int = 0, head_gain: float = 8.0) -> Path:
    """A ``ctc`` model file of encoder shape ``size`` (29-char vocabulary) with random weights.

    ``head_gain`` scales the head so greedy decoding of random weights yields varied characters, not all
    blanks: a text comparison between runtimes then means something.
    """
    from edge_ssl.asr.decode.tokenizer import CharTokenizer
    from edge_ssl.models import speech_encoder as se
    from edge_ssl.models.ctc import CTCModel
    from edge_ssl.models.store import save_model

    torch.manual_seed(seed)
    tok = CharTokenizer()
    cfg = se.encoder_config(size)
    model = CTCModel(cfg, tok.vocab_size).eval()
    with torch.no_grad():
        model.head.weight.mul_(head_gain)
    save_model(model, path, "ctc", {"encoder": cfg}, vocab=list(tok.tokens))
    return Path(path)


def espeak_manifest(folder: str | Path, sentences: list[str] = SENTENCES) -> Path:
    """Speak ``sentences`` with espeak-ng into 16 kHz WAVs under ``folder``; returns the JSONL manifest."""
    from edge_ssl.audio.io import load_audio, save_wav
    from edge_ssl.data.manifest import Utterance, write_manifest

    if shutil.which("espeak-ng") is None:
        raise EdgeSSLError("espeak-ng is not installed: apt-get install espeak-ng (or make system-deps)")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    utts = []
    with tempfile.TemporaryDirectory() as tmp:
        for i, text in enumerate(sentences):
            raw = Path(tmp) / f"{i}.wav"
            subprocess.run(["espeak-ng", "-w", str(raw), text], check=True, capture_output=True)
            wave = load_audio(raw)  # 22.05 kHz -> 16 kHz
            wav = folder / f"espeak_{i:02d}.wav"
            save_wav(wav, wave)
            utts.append(Utterance(f"espeak_{i:02d}", wav.resolve(), len(wave), text))
    return write_manifest(utts, folder / "manifest.jsonl")
