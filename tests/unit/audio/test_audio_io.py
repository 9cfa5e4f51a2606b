import numpy as np
import pytest
import soundfile as sf

from edge_ssl.audio.io import AudioError, audio_info, load_audio, resampled_length, save_wav
from edge_ssl.errors import EdgeSSLError


def tone(seconds: float, sr: int, freq: float = 440.0) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    return (0.5 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def test_audio_error_is_user_facing():
    assert issubclass(AudioError, EdgeSSLError)


def test_stereo_44k_is_downmixed_and_resampled(tmp_path):
    sr = 44100
    left, right = tone(1.0, sr, 440), tone(1.0, sr, 880)
    path = tmp_path / "stereo.wav"
    sf.write(path, np.stack([left, right], axis=1), sr)
    wave = load_audio(path)
    assert wave.dtype == np.float32 and wave.ndim == 1
    assert len(wave) == 16000 == resampled_length(sr, sr)
    assert audio_info(path) == (16000, sr, 2)
    # the mean of the channels survives resampling: compare against a mono 16 kHz reference
    ref = (tone(1.0, 16000, 440) + tone(1.0, 16000, 880)) / 2
    assert np.abs(wave[200:-200] - ref[200:-200]).max() < 0.01


@pytest.mark.parametrize("sr,n", [(8000, 12345), (22050, 44101), (32000, 6001), (48000, 48000)])
def test_header_length_matches_decoded_length(tmp_path, sr, n):
    path = tmp_path / "x.flac"
    sf.write(path, np.random.default_rng(0).uniform(-0.3, 0.3, n).astype(np.float32), sr)
    assert audio_info(path)[0] == len(load_audio(path))


@pytest.mark.parametrize("fmt", ["flac", "ogg"])
def test_flac_and_ogg(tmp_path, fmt):
    path = tmp_path / f"a.{fmt}"
    sf.write(path, tone(0.5, 16000), 16000)
    wave = load_audio(path)
    assert len(wave) == 8000
    assert np.corrcoef(wave, tone(0.5, 16000))[0, 1] > 0.99


def test_save_wav_round_trip_is_16bit_pcm(tmp_path):
    path = tmp_path / "out" / "w.wav"
    save_wav(path, tone(0.25, 16000) * 3)  # clipped, not wrapped
    info = sf.info(path)
    assert (info.samplerate, info.channels, info.subtype) == (16000, 1, "PCM_16")
    assert np.abs(load_audio(path)).max() <= 1.0
    assert list(path.parent.iterdir()) == [path]  # no temp file left behind


def write_bad(tmp_path, kind):
    path = tmp_path / f"{kind}.wav"
    if kind == "missing":
        return path
    if kind == "empty_file":
        path.write_bytes(b"")
    elif kind == "zero_samples":
        sf.write(path, np.zeros(0, np.float32), 16000)
    elif kind == "not_audio":
        path.write_text("this is a text file, not audio\n" * 20)
    elif kind == "truncated":
        sf.write(path, tone(1.0, 16000), 16000, subtype="PCM_16")
        path.write_bytes(path.read_bytes()[:8000])
    elif kind == "nan":
        w = tone(0.5, 16000)
        w[100] = np.nan
        sf.write(path, w, 16000, subtype="FLOAT")
    elif kind == "too_short":
        sf.write(path, tone(0.01, 16000), 16000)  # 160 samples < 400
    return path


@pytest.mark.parametrize("kind,words", [
    ("missing", "not found"), ("empty_file", "empty"), ("zero_samples", "0 samples"),
    ("not_audio", "not a readable audio file"), ("truncated", "truncated"), ("nan", "NaN"),
    ("too_short", "too short"),
])
def test_bad_files_name_the_file_and_the_problem(tmp_path, kind, words):
    path = write_bad(tmp_path, kind)
    with pytest.raises(AudioError) as e:
        load_audio(path)
    assert str(path) in str(e.value) and words in str(e.value)


@pytest.mark.parametrize("kind", ["missing", "empty_file", "zero_samples", "not_audio", "truncated", "too_short"])
def test_audio_info_rejects_what_the_header_shows(tmp_path, kind):
    with pytest.raises(AudioError, match="wav"):
        audio_info(write_bad(tmp_path, kind))


def test_truncated_flac_is_an_error(tmp_path):
    path = tmp_path / "cut.flac"
    sf.write(path, np.random.default_rng(1).uniform(-0.5, 0.5, 64000).astype(np.float32), 16000)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(AudioError, match="cut.flac"):
        load_audio(path)


@pytest.mark.parametrize("keep", [9000, -10])  # issue 18 #1: `head -c 9000 good.ogg` decoded partially, no error
def test_truncated_ogg_is_an_error(tmp_path, keep):
    path = tmp_path / "cut.ogg"
    sf.write(path, np.random.default_rng(1).uniform(-0.5, 0.5, 48000).astype(np.float32), 16000,
             format="OGG", subtype="VORBIS")
    assert audio_info(path)[0] == 48000  # the whole file is fine
    path.write_bytes(path.read_bytes()[:keep])
    for read in (audio_info, load_audio):
        with pytest.raises(AudioError, match="cut.ogg: truncated"):
            read(path)
