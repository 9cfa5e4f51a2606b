import json

import pytest

from edge_ssl.data.manifest import ManifestError, Utterance, check_audio, read_manifest, write_manifest


def test_round_trip_keeps_fields_extras_and_relative_paths(tmp_path):
    (tmp_path / "audio").mkdir()
    outside = tmp_path.parent / "elsewhere.wav"
    utts = [
        Utterance("a", tmp_path / "audio" / "a.wav", 16000, "hello world", "spk1", {"engine": "flite", "snr_db": 7.5}),
        Utterance("b", outside, 800),  # unlabeled, outside the manifest's folder
    ]
    path = write_manifest(utts, tmp_path / "m.jsonl")
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    assert rows[0] == {"id": "a", "audio": "audio/a.wav", "num_samples": 16000, "text": "hello world",
                       "speaker": "spk1", "engine": "flite", "snr_db": 7.5}
    assert rows[1]["audio"] == str(outside) and "text" not in rows[1]
    back = read_manifest(path)
    assert [(u.id, u.audio_path, u.num_samples, u.text, u.speaker, u.extra) for u in back] == \
           [(u.id, u.audio_path.resolve(), u.num_samples, u.text, u.speaker, u.extra) for u in utts]


def test_relative_audio_resolves_against_the_manifest_folder(tmp_path, monkeypatch):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "m.jsonl").write_text('{"id": "x", "audio": "../x.flac", "num_samples": 5}\n')
    monkeypatch.chdir("/")
    assert read_manifest(tmp_path / "sub" / "m.jsonl")[0].audio_path == (tmp_path / "x.flac").resolve()


def test_relative_audio_of_a_symlinked_manifest_resolves_against_the_real_file(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "m.jsonl").write_text('{"id": "x", "audio": "x.flac", "num_samples": 5}\n')
    (tmp_path / "link.jsonl").symlink_to(tmp_path / "sub" / "m.jsonl")
    assert read_manifest(tmp_path / "link.jsonl")[0].audio_path == (tmp_path / "sub" / "x.flac").resolve()


@pytest.mark.parametrize("bad_line,words", [
    ('{"id": "x", "audio": "x.wav"', "invalid JSON"),
    ('{"id": "x", "audio": "x.wav"}', "num_samples"),
    ('{"id": "x", "audio": "x.wav", "num_samples": -3}', "positive integer"),
    ('{"id": "x", "audio": "x.wav", "num_samples": 10, "text": 5}', "'text' must be a string"),
    ('["not", "an", "object"]', "JSON object"),
    ('{"id": "a", "audio": "x.wav", "num_samples": 10}', "duplicate id 'a' (first on line 1)"),
])
def test_errors_name_file_and_line(tmp_path, bad_line, words):
    path = tmp_path / "m.jsonl"
    path.write_text('{"id": "a", "audio": "a.wav", "num_samples": 10}\n\n' + bad_line + "\n")
    with pytest.raises(ManifestError) as e:
        read_manifest(path)
    assert f"{path}:3" in str(e.value) and words in str(e.value)


def test_missing_manifest(tmp_path):
    with pytest.raises(ManifestError, match="not found"):
        read_manifest(tmp_path / "nope.jsonl")


def write_noise(path, n, sr=16000):
    import numpy as np
    import soundfile as sf

    sf.write(path, np.random.default_rng(n).uniform(-0.3, 0.3, n).astype(np.float32), sr)


def test_num_samples_is_optional_and_read_from_the_header(tmp_path):  # issue 18 #6: required by hand
    write_noise(tmp_path / "a.wav", 12345)
    write_noise(tmp_path / "b.flac", 22050, sr=22050)
    m = tmp_path / "m.jsonl"
    m.write_text('{"id": "a", "audio": "a.wav"}\n{"id": "b", "audio": "b.flac", "num_samples": 16000}\n')
    assert [u.num_samples for u in read_manifest(m)] == [12345, 16000]
    assert "num_samples" in json.loads(write_manifest(read_manifest(m), tmp_path / "w.jsonl").read_text()
                                       .splitlines()[0])

    lost = tmp_path / "lost.jsonl"  # a reader that needs no lengths (evaluate) does not open the audio
    lost.write_text('{"id": "x", "audio": "missing.wav", "text": "hi"}\n')
    assert read_manifest(lost, lengths=False)[0].num_samples is None
    assert "num_samples" not in write_manifest(read_manifest(lost, lengths=False), tmp_path / "l2.jsonl").read_text()
    with pytest.raises(ManifestError, match=f"{lost}:1: no 'num_samples'.*missing.wav: file not found"):
        read_manifest(lost)


def test_num_samples_is_checked_against_the_header(tmp_path, caplog):  # issue 18 #6: 1e7 on short clips
    write_noise(tmp_path / "a.wav", 8000)
    write_noise(tmp_path / "b.wav", 9000)
    (tmp_path / "bad.wav").write_bytes(b"RIFF0000WAVEjunk")
    m = tmp_path / "m.jsonl"
    m.write_text('{"id": "a", "audio": "a.wav", "num_samples": 8000}\n'
                 '{"id": "bad", "audio": "bad.wav", "num_samples": 8000}\n'
                 '{"id": "b", "audio": "b.wav", "num_samples": 10000000}\n')
    with pytest.raises(ManifestError) as e:
        check_audio(read_manifest(m))
    assert f"{m}:3" in str(e.value) and "10000000" in str(e.value) and "9000" in str(e.value)

    m.write_text("".join(m.read_text().splitlines(keepends=True)[:2]))
    with caplog.at_level("WARNING"):
        kept = check_audio(read_manifest(m))  # an unreadable file is skipped, with the reason, up front
    assert [u.id for u in kept] == ["a"] and "bad.wav" in caplog.text
