"""The bundled model on real human voices it never heard: the held-out slice of the Queen game's cast
(edge_ssl/data/real/slice.py, extracted from the installed Debian package), through ``transcribe`` with both
artifacts and through ``listen`` replaying the recordings on the virtual-microphone path."""
import re

import pytest

from edge_ssl.asr.evaluate.metrics import corpus_error_rates
from edge_ssl.data.manifest import read_manifest

pytestmark = pytest.mark.e2e

# Measured on the 21 clips: bundled v2 .pte CER 0.286 / WER 0.667, .onnx 0.282 / 0.661; listen on 3 clips
# CER 0.214 / WER 0.579. The previous bundled model (TTS only): WER 0.97, CER 0.69 on those 3 clips.
MAX_CER, MAX_WER = 0.4, 0.8


@pytest.fixture(scope="module")
def real_slice(tmp_path_factory):
    from edge_ssl.data.real.slice import extract_heldout_slice

    return read_manifest(extract_heldout_slice(tmp_path_factory.mktemp("real")))


def test_the_slice_is_held_out_speakers_with_the_games_lines(real_slice):
    assert len(real_slice) == 21 and all(u.audio_path.is_file() for u in real_slice)
    assert {u.speaker for u in real_slice} == {"queen:death", "queen:jimmy", "queen:klunk", "queen:naomi",
                                                "queen:oracle", "queen:zombie"}
    assert 75 < sum(u.num_samples for u in real_slice) / 16000 < 85


@pytest.mark.parametrize("fmt", ["pte", "onnx"])
def test_bundled_model_transcribes_held_out_real_voices(fmt, real_slice):
    from edge_ssl.asr.transcribe import open_model, transcribe_file
    from edge_ssl.assets import bundled_model

    runner = open_model(bundled_model(fmt))
    hyps = [transcribe_file(runner, u.audio_path) for u in real_slice]
    rates = corpus_error_rates([u.text for u in real_slice], hyps)
    assert rates.cer < MAX_CER and rates.wer < MAX_WER, (rates, hyps)


def test_listen_replaying_a_real_speaker_prints_the_words(real_slice):
    """``listen --replay`` streams the recording through the microphone path (VAD, endpointing, decoding)."""
    from typer.testing import CliRunner

    from edge_ssl.cli import app

    clips = [u for u in real_slice if u.speaker in ("queen:oracle", "queen:naomi")][:3]
    refs, hyps = [], []
    for u in clips:
        r = CliRunner().invoke(app, ["listen", "--replay", str(u.audio_path), "--speed", "0", "--vad", "energy"],
                               env={"COLUMNS": "400"})
        assert r.exit_code == 0, (r.output, r.exception)
        out = r.output
        finals = re.findall(r"^\[\s*[\d.]+ -\s*[\d.]+\] (.+)  \(\d+ ms\)$", out, re.M)
        assert finals, out
        refs.append(u.text)
        hyps.append(" ".join(finals))
    rates = corpus_error_rates(refs, hyps)
    assert rates.cer < MAX_CER and rates.wer < MAX_WER, (rates, hyps)
