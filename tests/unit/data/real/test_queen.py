import io
import struct

import numpy as np
import pytest
import soundfile as sf

from edge_ssl.data.manifest import read_manifest, write_manifest
from edge_ssl.data.prepare import PrepareReport
from edge_ssl.data.real import MissingPackage, queen


def mp3_tone(seconds=1.0, freq=220.0, sr=11025):
    """A real MPEG layer III clip as the game stores them (soundfile encodes it)."""
    t = np.arange(int(seconds * sr)) / sr
    buf = io.BytesIO()
    sf.write(buf, (0.3 * np.sin(2 * np.pi * freq * t)).astype(np.float32), sr, format="MP3")
    return buf.getvalue()


def ambk(body: bytes) -> bytes:
    """An AMOS bank: 'AmBk' + bank number, flags, length + 'Datas   ' (20 bytes), then the data."""
    return b"AmBk" + struct.pack(">HHI", 15, 1, 0x80000000 | (len(body) + 8)) + b"Datas   " + body


def rec(node: int, text: bytes) -> bytes:
    """A dialogue text record: u16 node id, u8 length, text, then zero padding."""
    return struct.pack(">HB", node, len(text)) + text + b"\0\0\0"


def dog_bank() -> bytes:
    """Joe's opening and options 6, 7; the person's opening (id 1) and answers 6, 7; closing cutaway."""
    body = b"\0" * 16  # node table (not read)
    body += rec(0, b"Hi, I'm Joe King.*03") + rec(6, b"Nice hat.*02") + rec(7, b"Bye.*02")
    body += rec(1, b"*01Who are you?") + rec(6, b"Thanks.*02It was my father's.*01") + rec(7, b"See ya.")
    body += struct.pack(">HB", 0, 8) + b"c99z.CUT" + b"\x020" + b"\x020" + b"\0" * 8
    return ambk(body)


def cut_bank(lines: list[bytes]) -> bytes:
    """A cutaway bank: header words 4 and 5 give where its length-prefixed lines start and end."""
    texts = b"\0" + b"".join(bytes([len(t)]) + t for t in lines)
    start = 12 + 8  # after the 6 header words and 8 bytes of (unread) cutaway objects
    head = struct.pack(">hhhhHH", 0, -1, 0, 0, start, start + len(texts))
    return ambk(head + b"\0" * 8 + texts + b"\0" * 4)


def qtbl(path, entries: list[tuple[str, bytes]], lie: dict[str, int] | None = None):
    """A QTBL resource file: 13-byte header, u16 count, 21-byte entries (name, 1 byte, offset, size)."""
    lie = lie or {}
    head = b"QTBL" + b"CEM10\0\0\0" + b"\x01" + struct.pack(">H", len(entries))
    offset = len(head) + 21 * len(entries)
    table, data = b"", b""
    for name, blob in entries:
        table += name.encode().ljust(12, b"\0") + b"\x01" + struct.pack(">II", offset + len(data),
                                                                        lie.get(name, len(blob)))
        data += blob
    path.write_bytes(head + table + data)
    return path


@pytest.fixture
def resource(tmp_path):
    return qtbl(tmp_path / "queen.1c", [
        ("050006J1.SB", mp3_tone(1.0, 200)),
        ("050006P1.SB", mp3_tone(1.2, 300)),
        ("050006P2.SB", mp3_tone(0.8, 310)),
        ("050007J1.SB", mp3_tone(0.9, 210)),
        ("05SSSSJ1.SB", mp3_tone(0.7, 205)),
        ("JOE00011.SB", mp3_tone(1.0, 190)),
        ("C99Z_012.SB", mp3_tone(1.0, 215)),
        ("050007P1.SB", b"\xff\xe3" + b"\x00" * 300),       # a frame sync, then garbage
        ("JOE00021.SB", b"not audio at all" * 10),          # no MPEG frame
        ("050001P2.SB", mp3_tone(0.1, 300)),                 # too short
        ("44SSSSSS.SB", mp3_tone(1.0, 400)),                 # a room sound effect
        ("DEATH1.DOG", dog_bank()),
        ("C99Z.CUT", cut_bank([b"*FLWell, hello there.*01", b"Hi!*02"])),
        ("LAST.SB", mp3_tone(1.0)),                           # the index claims more bytes than the file has
    ], lie={"LAST.SB": 10**6})


def test_index_parsing(resource):
    entries = queen.read_index(resource)
    assert [e.name for e in entries][:3] == ["050006J1.SB", "050006P1.SB", "050006P2.SB"]
    assert len(entries) == 14
    first = entries[0]
    assert resource.read_bytes()[first.offset:first.offset + 2] == b"\xff\xe3"
    bad = resource.parent / "bad.1c"
    bad.write_bytes(b"NOPE" + b"\0" * 20)
    with pytest.raises(queen.QueenError, match="not a QTBL"):
        queen.read_index(bad)


def test_dialogue_bank_texts_by_node_and_part():
    lines = queen.dialogue_lines(dog_bank())
    texts = queen.clip_texts(lines)
    assert texts["SSSSJ1"] == "Hi, I'm Joe King."
    assert texts["0006J1"] == "Nice hat."
    assert texts["0001P2"] == "Who are you?"  # part 1 is empty (only the *01 code)
    assert (texts["0006P1"], texts["0006P2"]) == ("Thanks.", "It was my father's.")
    assert texts["0007P1"] == "See ya."


def test_extract_labels_skips_bad_entries_and_resumes(resource, tmp_path):
    report = PrepareReport()
    utts = queen.extract(tmp_path / "out", report, resource=resource)
    by_id = {u.id: u for u in utts}
    assert set(by_id) == {"queen/050006J1", "queen/050006P1", "queen/050006P2", "queen/050007J1",
                          "queen/05SSSSJ1", "queen/JOE00011", "queen/C99Z_012"}
    assert by_id["queen/050006J1"].speaker == "queen:joe"
    assert by_id["queen/050006P1"].speaker == "queen:death"  # the dialogue file whose node ids fit
    assert by_id["queen/050006P2"].extra["game_text"] == "It was my father's."
    assert by_id["queen/C99Z_012"].extra["game_text"] == "Well, hello there."
    assert by_id["queen/C99Z_012"].speaker in ("queen:unknown", "queen:joe")  # a voice guess at most
    assert "voice_guess" in by_id["queen/C99Z_012"].extra
    u = by_id["queen/050006P1"]
    assert u.extra["orig_sr"] == 11025 and u.extra["lang"] == "en"
    assert abs(u.num_samples - 1.2 * 16000) < 16000 * 0.1
    info = sf.info(str(u.audio_path))
    assert (info.samplerate, info.channels, info.subtype) == (16000, 1, "PCM_16")
    reasons = dict(report.skipped)
    assert any("past the end" in r for p, r in reasons.items() if p.endswith("LAST.SB"))
    assert any("no MPEG audio frame" in r for p, r in reasons.items() if p.endswith("JOE00021.SB"))
    assert any(r.startswith("undecodable") or "too short" in r
               for p, r in reasons.items() if "050007P1" in p)
    assert any("too short" in r for p, r in reasons.items() if "050001P2" in p)
    assert any("sound effect" in r for p, r in reasons.items() if "44SSSSSS" in p)
    write_manifest(utts, tmp_path / "out" / "queen.jsonl")
    assert len(read_manifest(tmp_path / "out" / "queen.jsonl")) == 7

    # resume: wavs already there are measured, not rewritten; a deleted one comes back
    stamps = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "out" / "queen" / "audio").glob("*.wav")}
    (tmp_path / "out" / "queen" / "audio" / "JOE00011.wav").unlink()
    again = queen.extract(tmp_path / "out", PrepareReport(), resource=resource)
    assert [(x.id, x.num_samples) for x in again] == [(x.id, x.num_samples) for x in utts]
    now = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "out" / "queen" / "audio").glob("*.wav")}
    assert {n for n in now if now[n] != stamps.get(n)} == {"JOE00011.wav"}
    assert not list((tmp_path / "out" / "queen" / "audio").glob(".*.tmp"))


def test_missing_package_says_what_to_install(tmp_path):
    with pytest.raises(MissingPackage, match="apt-get install flight-of-the-amazon-queen"):
        queen.extract(tmp_path, PrepareReport(), resource=tmp_path / "nowhere" / "queen.1c")


@pytest.mark.slow
def test_real_package(tmp_path):
    if not queen.RESOURCE.is_file():
        pytest.skip("flight-of-the-amazon-queen is not installed")
    utts = queen.extract(tmp_path, PrepareReport())
    assert len(utts) > 6500
    speakers = {u.speaker for u in utts}
    assert {"queen:joe", "queen:sparky", "queen:death", "queen:witch_doctor", "queen:chief"} <= speakers
    by_id = {u.id: u for u in utts}
    assert by_id["queen/020006P1"].speaker == "queen:anderson"
    assert by_id["queen/020006J1"].extra["game_text"] == "At least I don't look like I need to wear one."
    assert by_id["queen/780009P1"].speaker == "queen:witch_doctor"
    hours = sum(u.num_samples for u in utts) / 16000 / 3600
    assert 4.4 < hours < 4.8
