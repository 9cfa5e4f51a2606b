"""Silero VAD (real ONNX model from the silero-vad wheel) and the energy fallback, on TTS speech with known gaps."""
import logging

import numpy as np
import pytest

from edge_ssl.asr.stream import vad as vad_mod
from edge_ssl.asr.stream.segment import segment_wave
from edge_ssl.data.tts import build_dialogue
from edge_ssl.asr.stream.vad import WINDOW, EnergyVad, SileroVad, VadConfig, VadStream, open_detector
from edge_ssl.errors import EdgeSSLError

TEXTS = ["the weather is nice today", "please open the window", "thank you very much"]
GAPS = [0.6, 1.0, 0.8, 0.7]


@pytest.fixture(scope="module")
def dialogue():
    return build_dialogue(TEXTS, GAPS)


def window_labels(n_windows, spans):
    """1 where a window lies fully inside a span, 0 fully inside a gap, -1 at a boundary."""
    lab = np.zeros(n_windows, int)
    for a, b in spans:
        for i in range(n_windows):
            lo, hi = i * WINDOW, (i + 1) * WINDOW
            if lo >= a and hi <= b:
                lab[i] = 1
            elif hi > a and lo < b:
                lab[i] = -1
    return lab


@pytest.mark.parametrize("make", [SileroVad, EnergyVad], ids=["silero", "energy"])
def test_detector_separates_speech_from_silence(dialogue, make):
    wave, spans = dialogue
    det = make()
    probs = np.array([det.prob(wave[i:i + WINDOW]) for i in range(0, len(wave) - WINDOW + 1, WINDOW)])
    lab = window_labels(len(probs), spans)
    assert np.mean(probs[lab == 0] < 0.35) > 0.95   # silence is silence
    assert np.mean(probs[lab == 1] >= 0.5) > 0.6     # TTS speech has short internal pauses between words


def test_decisions_do_not_depend_on_chunking(dialogue):
    wave, _ = dialogue
    runs = []
    for size in (100, WINDOW, 7777):
        vs = VadStream(SileroVad())
        runs.append(sum((vs.accept(wave[i:i + size]) for i in range(0, len(wave), size)), []))
    assert runs[0] == runs[1] == runs[2] and len(runs[0]) == len(wave) // WINDOW


def test_hysteresis_keeps_speech_until_the_lower_threshold():
    class Scripted:
        name = "scripted"

        def __init__(self, probs):
            self.probs = iter(probs)

        def prob(self, window):
            return next(self.probs)

        def reset(self):
            pass

    vs = VadStream(Scripted([0.4, 0.6, 0.4, 0.36, 0.34, 0.6]), VadConfig(threshold=0.5))
    assert vs.accept(np.zeros(6 * WINDOW, np.float32)) == [False, True, True, True, False, True]


@pytest.mark.parametrize("kind", ["silero", "energy"])
def test_segment_wave_finds_each_utterance_between_known_silences(dialogue, kind):
    wave, spans = dialogue
    segs = segment_wave(wave, open_detector(kind))
    assert len(segs) == len(spans)
    for seg, (a, b) in zip(segs, spans):
        # the segment covers the clip (a little VAD trimming at soft word edges is allowed) and not the gaps
        assert seg.start <= a + 0.1 * 16000 and seg.end >= b - 0.15 * 16000
        assert seg.start >= a - 0.45 * 16000 and seg.end <= b + 0.45 * 16000


def test_missing_silero_falls_back_to_energy_or_fails_clearly(monkeypatch, caplog):
    monkeypatch.setattr(vad_mod.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(EdgeSSLError, match="pip install --no-deps silero-vad"):
        open_detector("silero")
    with caplog.at_level(logging.WARNING):
        assert open_detector("auto").name == "energy"
    assert "energy-based VAD" in caplog.text
    with pytest.raises(EdgeSSLError, match="unknown VAD"):
        open_detector("webrtc")


def test_unreadable_silero_model_is_reported(tmp_path):
    bad = tmp_path / "vad.onnx"
    bad.write_bytes(b"not an onnx model")
    with pytest.raises(EdgeSSLError, match="vad.onnx: cannot load the Silero VAD model"):
        SileroVad(bad)
