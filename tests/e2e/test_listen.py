"""``listen`` end to end through PortAudio: an ALSA file-plugin microphone (no sound card) plays a TTS
dialogue with known silences at 48 kHz; the app must find each utterance and print, for each, exactly
the offline transcription of the same segment, plus partials and a latency summary."""
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from edge_ssl.asr.stream.endpoint import live_endpoint
from edge_ssl.asr.stream.segment import segment_wave
from edge_ssl.data.tts import build_dialogue
from edge_ssl.asr.stream.session import StreamConfig, open_recognizer, open_session, run_stream, transcribe_wave
from edge_ssl.asr.decode.tokenizer import CharTokenizer
from edge_ssl.asr.stream.vad import SileroVad
from edge_ssl.audio.io import load_audio
from edge_ssl.audio.sources import MicSource, import_sounddevice, make_virtual_microphone
from edge_ssl.models.ctc import CTCModel
from edge_ssl.models.speech_encoder import tiny
from edge_ssl.models.store import save_model

pytestmark = pytest.mark.e2e
RATE = 48000  # the virtual device's native rate: capture is resampled to 16 kHz by soxr on the way in
EDGE_SSL = [sys.executable, "-m", "edge_ssl"]


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    """(model path, HOME with the virtual mic, 48 kHz wav of what it plays, known speech spans at 16 kHz)."""
    tmp = tmp_path_factory.mktemp("listen")
    torch.manual_seed(0)
    tok, cfg = CharTokenizer(), tiny()
    model = tmp / "tiny.safetensors"
    save_model(CTCModel(cfg, tok.vocab_size), model, "ctc", cfg, vocab=list(tok.tokens))
    wave16, spans = build_dialogue(["turn on the kitchen lights", "what time is it", "play some music please"],
                                   [0.6, 1.0, 0.8, 0.9])
    import soxr
    wave48 = soxr.resample(wave16, 16000, RATE)
    home = make_virtual_microphone(tmp / "home", wave48, RATE)
    wav = tmp / "played.wav"
    sf.write(str(wav), np.fromfile(home / "in.raw", dtype="<i2"), RATE, subtype="PCM_16")  # exactly what is played
    return model, home, wav, spans


def offline(model, wav, endpoint=None):
    """Offline reference: the whole file resampled at once, VAD-segmented, each segment transcribed."""
    torch.set_num_threads(1)
    rec, wave = open_recognizer(model), load_audio(wav)
    return [(s, transcribe_wave(rec, wave[s.start:s.end]))
            for s in segment_wave(wave, SileroVad(), endpoint_cfg=endpoint)]


def test_stream_from_portaudio_matches_offline_and_known_silences(setup, monkeypatch):
    model, home, wav, spans = setup
    sd = import_sounddevice()
    monkeypatch.setenv("HOME", str(home))
    sd._terminate()
    sd._initialize()
    try:
        session = open_session(model, stream=StreamConfig(max_lag=float("inf")), threads=1)
        finals, partials = [], []
        source = MicSource(None, 16000, max_seconds=sf.info(str(wav)).duration)
        with source:
            stats = run_stream(source, session, lambda e: (finals if hasattr(e, "latency") else partials).append(e))
    finally:
        monkeypatch.undo()
        sd._terminate()
        sd._initialize()
    assert source.in_rate == RATE and source.overflows == 0 and source.dropped == 0
    # endpoints: one per utterance, each around its known span (the gaps are 0.8-1.0 s of silence)
    assert len(finals) == len(spans)
    for f, (a, b) in zip(finals, spans):
        assert f.segment.start <= a + 1600 and f.segment.end >= b - 2400
        assert f.segment.start >= a - 7200 and f.segment.end <= b + 7200
    # finals == offline transcription of the same segments
    ref = offline(model, wav)
    assert [f.segment for f in finals] == [s for s, _ in ref]
    assert [f.text for f in finals] == [t for _, t in ref] and all(t for _, t in ref)
    assert partials and len(stats.items) == len(finals)
    assert stats.summary()["hangover"]["p50"] >= 0.5


def test_listen_command_on_the_virtual_microphone(setup):
    model, home, wav, spans = setup
    env = {**os.environ, "HOME": str(home), "COLUMNS": "400"}
    seconds = f"{sf.info(str(wav)).duration:.3f}"
    out = subprocess.run([*EDGE_SSL, "listen", "--model", str(model), "--seconds", seconds, "--max-lag", "inf",
                          "--threads", "1"], capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 0, out.stderr
    # listen's live rules: each segment committed after a short pause, continuations marked "+"
    finals = re.findall(r"^(\+ )?\[\s*([\d.]+) -\s*([\d.]+)\] (\S*)  \(\d+ ms\)$", out.stdout, re.M)
    ref = offline(model, wav, live_endpoint())
    assert [t for _, _, _, t in finals] == [t for _, t in ref]
    assert [bool(c) for c, _, _, _ in finals] == [s.joins for s, _ in ref]
    assert [round(float(a) * 16000) for _, a, _, _ in finals] == [pytest.approx(s.start, abs=80) for s, _ in ref]
    assert sum(not s.joins for s, _ in ref) == len(spans)  # one line per spoken sentence
    assert re.search(r"^\.\. \S+", out.stdout, re.M)  # partials were shown
    assert re.search(rf"latency over {len(ref)} utterances \(end of speech -> final text\): total p50 \d+ ms / "
                     r"p90 \d+ ms", out.stdout)
    assert "input overflows: 0; dropped input frames: 0" in out.stdout


def in_process(*args):
    """The CLI in this process (no interpreter start-up): for checks that need no exit status."""
    from typer.testing import CliRunner

    from edge_ssl.cli import app

    return CliRunner().invoke(app, [str(a) for a in args], env={"COLUMNS": "400"})


def test_listen_errors_are_clear(setup, monkeypatch):
    model, home, _, _ = setup
    out = subprocess.run([*EDGE_SSL, "listen", "--model", str(model), "--device", "99"], capture_output=True,
                         text=True, env={**os.environ, "HOME": str(home)}, timeout=120)
    assert out.returncode == 2
    assert "--device '99' is not an input device" in out.stderr and "default (ALSA" in out.stderr
    sd = import_sounddevice()
    monkeypatch.setenv("HOME", str(home))
    sd._terminate()
    sd._initialize()
    try:
        r = in_process("listen", "--list-devices")
    finally:
        monkeypatch.undo()
        sd._terminate()
        sd._initialize()
    assert r.exit_code == 0 and re.search(r"\*\s+\d+ default \(ALSA, \d+ in, 48000 Hz\)", r.output)
    r = in_process("listen", "--model", Path(model).with_name("nope.safetensors"), "--replay", "x.wav")
    assert "nope.safetensors" in str(r.exception)


def test_listen_replays_a_file_with_the_chunked_encoder(setup):
    model, _, wav, spans = setup
    r = in_process("listen", "--model", model, "--replay", wav, "--speed", "0", "--mode", "chunked", "--vad", "energy")
    assert r.exit_code == 0, r.output
    assert f"replaying {wav} at 0x; energy VAD, chunked decoding" in r.output
    finals = re.findall(r"^\[\s*([\d.]+) -\s*([\d.]+)\] (\S+)  \(\d+ ms\)$", r.output, re.M)
    assert len(finals) == len(spans)
    for (a, b, _), (s0, s1) in zip(finals, spans):
        assert float(a) <= s0 / 16000 + 0.1 and float(b) >= s1 / 16000 - 0.15
