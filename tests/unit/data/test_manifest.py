import json

import pytest

from edge_ssl.data.manifest import ManifestError, Utterance, read_manifest, write_manifest


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
