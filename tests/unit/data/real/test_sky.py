"""Beneath a Steel Sky voice extraction: a tiny sky.dnr + sky.dsk pair built here in the real layout,
and (opt-in, slow) a few clips of the installed Debian package."""
import struct

import numpy as np
import pytest
import soundfile as sf

from edge_ssl.audio.io import resampled_length
from edge_ssl.data.manifest import read_manifest, write_manifest
from edge_ssl.data.prepare import PrepareReport
from edge_ssl.data.real import sky
from edge_ssl.errors import EdgeSSLError
from test_rnc import pack  # the test packer (same folder)


def _pcm(seconds: float, amplitude: int = 60, freq: float = 440.0) -> bytes:
    t = np.arange(int(seconds * sky.ORIG_SR)) / sky.ORIG_SR
    return (128 + amplitude * np.sin(2 * np.pi * freq * t)).round().astype(np.uint8).tobytes()


def _stored(payload: bytes, packed: bytes | None = None, no_header_out: bool = False) -> bytes:
    """22-byte file header (flags, unpacked size split over bytes 1 and 12-13) + body."""
    total = len(payload) + (0 if no_header_out else sky.HEADER_SIZE)
    head = bytearray(sky.HEADER_SIZE)
    head[0] = 0x81 if packed is not None else 0x01
    head[1] = total >> 16
    head[12:14] = struct.pack("<H", total & 0xFFFF)
    head[2:12] = payload[:10].ljust(10, b"\0")  # junk, as in the real sound files
    return bytes(head) + (payload if packed is None else packed)


def _game(tmp_path, files: list[tuple[int, bytes, int]], units_from: int = 3):
    """Write sky.dnr/sky.dsk: (number, stored bytes, dnr flags) in disk order; entries from ``units_from``
    on are 16-byte aligned with their offset in 16-byte units (bit 23), as past 8 MB in the real index."""
    dsk, dnr = bytearray(), bytearray(struct.pack("<I", len(files)))
    for i, (number, stored, flags) in enumerate(files):
        if i >= units_from:
            dsk += b"\0" * (-len(dsk) % 16)
            off = len(dsk) >> 4 | 1 << 23
        else:
            off = len(dsk)
        dnr += struct.pack("<H", number) + off.to_bytes(3, "little") + (len(stored) | flags).to_bytes(3, "little")
        dsk += stored
    game = tmp_path / "game"
    game.mkdir()
    (game / "sky.dnr").write_bytes(bytes(dnr))
    (game / "sky.dsk").write_bytes(bytes(dsk))
    return game


@pytest.fixture
def game(tmp_path):
    voice = _pcm(1.0)
    bad = bytearray(pack(_pcm(0.8)))
    bad[30] ^= 0xFF  # inside the packed stream: its CRC no longer matches
    files = [
        (100, _stored(b"sprite bytes" * 10, pack(b"sprite bytes" * 10)), 0),  # engine data
        (50010, _stored(voice, pack(voice)), 0),
        (50012, _stored(_pcm(0.1), pack(_pcm(0.1))), 0),                       # too short
        (50013, _stored(b"\x80" * 8000, pack(b"\x80" * 8000)), 0),             # silent
        (50014, _stored(_pcm(0.8), bytes(bad)), 0),                             # corrupt
        (50015, _stored(_pcm(0.6, freq=300), pack(_pcm(0.6, freq=300), header=False)), 0),  # bare stream
        (50011, _stored(_pcm(2.0, freq=200), pack(_pcm(2.0, freq=200))), 0),
        (59600, _stored(_pcm(0.5), pack(_pcm(0.5))), 0),                        # intro narration
        (59601, _stored(b"\0" * 640, pack(b"\0" * 640), no_header_out=True), 1 << 22),  # intro screen
        (60600, b"raw engine table", 1 << 23),
    ]
    return _game(tmp_path, files)


def test_dnr_layout(game):
    entries = sky.read_dnr(game / "sky.dnr")
    assert [e.number for e in entries] == [100, 50010, 50012, 50013, 50014, 50015, 50011, 59600, 59601, 60600]
    assert all(e.offset % 16 == 0 for e in entries[3:])
    assert entries[-1].flags == 1 << 23 and entries[-2].flags == 1 << 22 and entries[1].flags == 0
    assert sky.read_file(game, 60600) == b"raw engine table"
    assert sky.read_file(game, 59601) == b"\0" * 640
    assert sky.read_file(game, 100) == b"sprite bytes" * 10


def test_extract_writes_16k_wavs_and_reports_bad_entries(game, tmp_path):
    report = PrepareReport()
    utts = sky.extract(tmp_path / "out", report, game_dir=game, progress=False)
    assert [u.id for u in utts] == ["sky/50010", "sky/50011", "sky/50015", "sky/59600"]
    for u, seconds in zip(utts, (1.0, 2.0, 0.6, 0.5)):
        assert u.audio_path == (tmp_path / "out" / "sky" / "audio" / f"{u.id[4:]}.wav").resolve()
        info = sf.info(str(u.audio_path))
        assert (info.samplerate, info.channels, info.subtype) == (16000, 1, "PCM_16")
        assert info.frames == u.num_samples == resampled_length(int(seconds * 11025), 11025)
        assert u.speaker == "sky:unknown" and u.text is None
        assert u.extra == {"source": "sky", "lang": "en", "duration": round(u.num_samples / 16000, 3),
                           "orig_sr": 11025, "part": "intro" if u.id == "sky/59600" else "dialogue"}
    wave, _ = sf.read(str(utts[0].audio_path))
    spectrum = np.abs(np.fft.rfft(wave))
    assert abs(np.argmax(spectrum) * 16000 / len(wave) - 440) < 3  # the tone survived at its pitch
    reasons = dict(report.skipped)
    assert set(reasons) == {f"{game / 'sky.dsk'} file {n}" for n in (50012, 50013, 50014)}
    assert "too short" in reasons[f"{game / 'sky.dsk'} file 50012"]
    assert "silent" in reasons[f"{game / 'sky.dsk'} file 50013"]
    assert "packed-data CRC mismatch" in reasons[f"{game / 'sky.dsk'} file 50014"]
    # manifests round-trip the extra keys
    back = read_manifest(write_manifest(utts, tmp_path / "out" / "sky.jsonl"))
    assert [(b.id, b.num_samples, b.extra) for b in back] == [(u.id, u.num_samples, u.extra) for u in utts]


def test_extract_resumes_without_unpacking_again(game, tmp_path, monkeypatch):
    first = sky.extract(tmp_path / "out", PrepareReport(), game_dir=game, progress=False)
    loaded = []
    real_load = sky._load
    monkeypatch.setattr(sky, "_load", lambda f, e, d: loaded.append(e.number) or real_load(f, e, d))
    again = sky.extract(tmp_path / "out", PrepareReport(), game_dir=game, progress=False)
    assert [(u.id, u.num_samples, u.extra) for u in again] == [(u.id, u.num_samples, u.extra) for u in first]
    assert set(loaded) == {50012, 50013, 50014}  # only the skipped ones are looked at again
    (tmp_path / "out" / "sky" / "audio" / "50010.wav").write_bytes(b"RIFF")  # a damaged wav is redone
    loaded.clear()
    sky.extract(tmp_path / "out", PrepareReport(), game_dir=game, numbers={50010}, progress=False)
    assert loaded == [50010]
    assert sf.info(str(tmp_path / "out" / "sky" / "audio" / "50010.wav")).frames == first[0].num_samples


def test_missing_package_is_a_clear_error(tmp_path):
    with pytest.raises(EdgeSSLError, match="beneath-a-steel-sky is not installed: apt-get install"):
        sky.extract(tmp_path / "out", PrepareReport(), game_dir=tmp_path / "nowhere")


def test_bad_index_names_the_file(game):
    (game / "sky.dnr").write_bytes(struct.pack("<I", 5) + b"\0" * 8)
    with pytest.raises(sky.SkyError, match=r"sky\.dnr: declares 5 entries \(44 bytes\), file has 12 bytes"):
        sky.extract(game / "out", PrepareReport(), game_dir=game)


def test_truncated_dsk_is_reported_and_skipped(game, tmp_path):
    data = (game / "sky.dsk").read_bytes()
    last_voice = sky.read_dnr(game / "sky.dnr")[7]  # 59600
    (game / "sky.dsk").write_bytes(data[:last_voice.offset + 30])
    report = PrepareReport()
    utts = sky.extract(tmp_path / "out", report, game_dir=game, progress=False)
    assert "sky/59600" not in [u.id for u in utts]
    assert any("file 59600" in p and "truncated" in r for p, r in report.skipped)


@pytest.mark.slow
def test_real_package_clips(tmp_path):
    if not (sky.GAME_DIR / "sky.dsk").is_file():
        pytest.skip("beneath-a-steel-sky is not installed (apt-get install beneath-a-steel-sky)")
    entries = {e.number: e for e in sky.read_dnr(sky.GAME_DIR / "sky.dnr")}
    assert len(entries) == 5097 and sum(n in sky.DIALOGUE for n in entries) == 3491
    picks = {50007: 12607, 53000: 15680, 55031: 59748, 59500: 49302}  # number -> 11,025 Hz samples
    report = PrepareReport()
    utts = sky.extract(tmp_path, report, numbers=set(picks), progress=False)
    assert [u.id for u in utts] == [f"sky/{n}" for n in sorted(picks)] and not report.skipped
    for u in utts:
        info = sf.info(str(u.audio_path))
        assert (info.samplerate, info.channels) == (16000, 1)
        assert info.frames == u.num_samples == resampled_length(picks[int(u.id[4:])], 11025)
        wave, _ = sf.read(str(u.audio_path))
        assert np.abs(wave).max() > 0.1 and np.abs(wave[:16]).max() < 0.02  # speech, opening on silence
