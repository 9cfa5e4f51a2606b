"""Audio sources through the real stack: soxr streaming resampling, and PortAudio reading the ALSA ``file``
plugin virtual microphone (no sound card here; shared/STACK.md)."""
import sys
import time

import numpy as np
import pytest
import soundfile as sf

from edge_ssl.audio.io import load_audio
from edge_ssl.audio.sources import (FileSource, MicSource, import_sounddevice, list_input_devices,
                                    make_virtual_microphone, resolve_input_device)
from edge_ssl.errors import EdgeSSLError


def tone_file(path, rate, channels, seconds=1.3):
    t = np.arange(int(rate * seconds)) / rate
    x = 0.3 * np.sin(2 * np.pi * 440 * t) * np.linspace(0.2, 1, len(t))
    data = np.stack([x * (c + 1) / channels for c in range(channels)], axis=1)
    sf.write(str(path), data, rate, subtype="PCM_16")
    return path


def collect(source):
    with source:
        return np.concatenate([c.samples for c in source])


@pytest.mark.parametrize("rate,channels", [(16000, 1), (44100, 2), (8000, 1)])
def test_file_replay_equals_whole_file_resampling(tmp_path, rate, channels):
    path = tone_file(tmp_path / "x.wav", rate, channels)
    got = collect(FileSource(path, 16000, speed=0, block=333))
    np.testing.assert_array_equal(got, load_audio(path))  # streaming soxr is bit-exact with one-shot


def test_paced_replay_takes_real_time_over_speed(tmp_path):
    path = tone_file(tmp_path / "x.wav", 16000, 1, seconds=1.0)
    t0 = time.monotonic()
    got = collect(FileSource(path, 16000, speed=4.0))
    assert time.monotonic() - t0 >= 0.9 * 1.0 / 4.0 and len(got) == 16000


def test_a_slow_consumer_makes_the_paced_replay_drop_and_count(tmp_path):
    path = tone_file(tmp_path / "x.wav", 16000, 1, seconds=2.0)
    src = FileSource(path, 16000, speed=50.0, block=512, max_queue_seconds=0.1)
    got = 0
    with src:
        for c in src:
            got += len(c.samples)
            time.sleep(0.01)
    assert src.dropped > 0 and got + src.dropped == 32000


def test_bad_file_is_reported(tmp_path):
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF....garbage")
    with pytest.raises(EdgeSSLError, match="bad.wav"):
        FileSource(bad)


@pytest.fixture
def virtual_mic(tmp_path, monkeypatch):
    """Points PortAudio at an ALSA file-plugin microphone; yields a function (wave, rate) -> None."""
    sd = import_sounddevice()

    def use(wave, rate):
        monkeypatch.setenv("HOME", str(make_virtual_microphone(tmp_path / "home", wave, rate)))
        sd._terminate()
        sd._initialize()

    yield use
    monkeypatch.undo()
    sd._terminate()
    sd._initialize()


@pytest.mark.parametrize("rate", [16000, 48000])
def test_microphone_capture_through_portaudio(virtual_mic, rate):
    t = np.arange(rate * 2) / rate
    wave = (0.3 * np.sin(2 * np.pi * 300 * t)).astype(np.float32)
    virtual_mic(wave, rate)
    mic = MicSource(None, 16000, max_seconds=2.0)
    assert mic.in_rate == rate and mic.device["default"]
    got = collect(mic)
    as_int16 = np.round(np.clip(wave, -1, 32767 / 32768) * 32768) / 32768
    if rate == 16000:
        np.testing.assert_array_equal(got, as_int16.astype(np.float32))  # bit-exact through PortAudio
    else:
        import soxr
        np.testing.assert_allclose(got, soxr.resample(as_int16.astype(np.float32), rate, 16000, quality="HQ"),
                                   atol=1e-6)
    assert mic.overflows == 0 and mic.dropped == 0


def test_bad_device_lists_the_available_ones(virtual_mic):
    virtual_mic(np.zeros(16000, np.float32), 16000)
    names = [d["name"] for d in list_input_devices()]
    assert "default" in names
    with pytest.raises(EdgeSSLError, match=r"--device 99 is not an input device\navailable input devices:"):
        resolve_input_device(99)
    with pytest.raises(EdgeSSLError, match="matches several"):
        resolve_input_device("l")  # 'filein', 'nullpcm', 'default'
    assert resolve_input_device("nullpcm")["name"] == "nullpcm"


def test_no_input_device_is_a_clear_error(tmp_path, monkeypatch):
    sd = import_sounddevice()
    monkeypatch.setenv("HOME", str(tmp_path))  # no .asoundrc, and this machine has no sound card
    sd._terminate()
    sd._initialize()
    try:
        if list_input_devices():
            pytest.skip("this machine has a real input device")
        with pytest.raises(EdgeSSLError, match="no audio input device found"):
            MicSource(None, 16000)
    finally:
        monkeypatch.undo()
        sd._terminate()
        sd._initialize()


def test_missing_portaudio_gives_an_install_hint(monkeypatch):
    class NoPortAudio:
        def find_spec(self, name, path=None, target=None):
            if name == "sounddevice":
                raise OSError("PortAudio library not found")

    monkeypatch.delitem(sys.modules, "sounddevice")
    monkeypatch.setattr(sys, "meta_path", [NoPortAudio(), *sys.meta_path])
    with pytest.raises(EdgeSSLError, match="apt-get install libportaudio2"):
        import_sounddevice()


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_replay_of_nan_or_inf_samples_names_the_file(tmp_path, run_cli, tiny_ctc, bad):
    """Issue 18 #5: NaN replayed with exit 0 (first word lost), Inf failed naming the model; the header is fine."""
    path = tmp_path / "bad.wav"
    x = np.random.default_rng(0).uniform(-0.3, 0.3, 32000).astype(np.float32)
    x[20000] = bad
    sf.write(str(path), x, 16000, subtype="FLOAT")
    with pytest.raises(EdgeSSLError, match="bad.wav: contains NaN or infinite samples at 1.2"):
        collect(FileSource(path, 16000, speed=0, block=512))
    code, err = run_cli("listen", "--replay", path, "--speed", "0", "--vad", "energy", "-m", tiny_ctc)
    assert code == 2 and f"{path}: contains NaN or infinite samples" in err and tiny_ctc.name not in err
