import logging

import numpy as np
import pytest
import soundfile as sf

from edge_ssl.data.manifest import read_manifest
from edge_ssl.data.prepare import prepare_folder, prepare_librispeech
from edge_ssl.errors import EdgeSSLError


def write_flac(path, seconds=0.5, sr=16000, seed=0):
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, np.random.default_rng(seed).uniform(-0.3, 0.3, int(seconds * sr)).astype(np.float32), sr)


def librispeech_tree(root):
    """train-clean-100: speaker 19 (2 good + 1 corrupt + 1 untranscribed file); dev-clean: speaker 84."""
    ch = root / "LibriSpeech" / "train-clean-100" / "19" / "198"
    write_flac(ch / "19-198-0000.flac", 1.0)
    write_flac(ch / "19-198-0001.flac", 0.5, sr=22050)
    (ch / "19-198-0002.flac").write_bytes(b"garbage, not flac" * 10)
    write_flac(ch / "19-198-0003.flac", 0.5)  # no transcript line
    (ch / "19-198.trans.txt").write_text("19-198-0000 NORTHANGER ABBEY\n19-198-0001 THIS LITTLE WORK\n"
                                         "19-198-0002 BROKEN FILE\n19-198-0009 FILE IS MISSING\n")
    dev = root / "LibriSpeech" / "dev-clean" / "84" / "121123"
    write_flac(dev / "84-121123-0000.flac", 0.75)
    (dev / "84-121123.trans.txt").write_text("84-121123-0000 GO DO YOU HEAR\n")


def test_librispeech_one_manifest_per_split_bad_files_reported(tmp_path, caplog):
    librispeech_tree(tmp_path / "raw")
    with caplog.at_level(logging.WARNING):
        report = prepare_librispeech(tmp_path / "raw", tmp_path / "out")
    assert sorted(report.manifests) == ["dev-clean", "train-clean-100"]
    train = read_manifest(tmp_path / "out" / "train-clean-100.jsonl")
    assert [(u.id, u.text, u.speaker, u.num_samples) for u in train] == [
        ("19-198-0000", "northanger abbey", "19", 16000), ("19-198-0001", "this little work", "19", 8000)]
    assert train[0].audio_path.is_file()
    assert len(read_manifest(tmp_path / "out" / "dev-clean.jsonl")) == 1
    reasons = {p.split("/")[-1]: r for p, r in report.skipped}
    assert "not a readable audio file" in reasons["19-198-0002.flac"]
    assert "missing" in reasons["19-198-0009.flac"]
    assert "no transcript" in reasons["19-198-0003.flac"]
    assert "19-198-0002.flac" in caplog.text
    assert "3 bad file(s) skipped" in report.summary()


def test_librispeech_nothing_usable_is_an_error(tmp_path):
    ch = tmp_path / "test-clean" / "1" / "2"
    ch.mkdir(parents=True)
    (ch / "1-2-0000.flac").write_bytes(b"nope")
    (ch / "1-2.trans.txt").write_text("1-2-0000 HELLO\n")
    with pytest.raises(EdgeSSLError, match="no usable utterances"):
        prepare_librispeech(tmp_path, tmp_path / "out")
    with pytest.raises(EdgeSSLError, match="no LibriSpeech split"):
        prepare_librispeech(ch, tmp_path / "out2")


def test_folder_with_sibling_transcripts(tmp_path):
    write_flac(tmp_path / "in" / "a.flac")
    (tmp_path / "in" / "a.txt").write_text("Hello  there\n")
    write_flac(tmp_path / "in" / "deep" / "b.wav")  # unlabeled
    (tmp_path / "in" / "bad.ogg").write_text("not audio")
    report = prepare_folder(tmp_path / "in", tmp_path / "m.jsonl")
    utts = read_manifest(tmp_path / "m.jsonl")
    assert [(u.id, u.text) for u in utts] == [("a", "Hello there"), ("deep-b", None)]
    assert len(report.skipped) == 1 and report.skipped[0][0].endswith("bad.ogg")


def test_folder_with_tsv_and_space_separated_transcripts(tmp_path):
    write_flac(tmp_path / "in" / "x1.wav")
    write_flac(tmp_path / "in" / "sub" / "x2.wav")
    (tmp_path / "t.tsv").write_text("x1\tfirst one\nsub/x2\tsecond one\n")
    prepare_folder(tmp_path / "in", tmp_path / "m.jsonl", transcripts=tmp_path / "t.tsv")
    assert {u.id: u.text for u in read_manifest(tmp_path / "m.jsonl")} == {"x1": "first one", "sub-x2": "second one"}
    (tmp_path / "t.txt").write_text("x1 uno\nx2 dos\n")
    prepare_folder(tmp_path / "in", tmp_path / "m2.jsonl", transcripts=tmp_path / "t.txt")
    assert {u.id: u.text for u in read_manifest(tmp_path / "m2.jsonl")} == {"x1": "uno", "sub-x2": "dos"}


def test_folder_errors(tmp_path):
    with pytest.raises(EdgeSSLError, match="not found"):
        prepare_folder(tmp_path / "nope", tmp_path / "m.jsonl")
    (tmp_path / "empty").mkdir()
    with pytest.raises(EdgeSSLError, match="no usable utterances"):
        prepare_folder(tmp_path / "empty", tmp_path / "m.jsonl")
    assert not (tmp_path / "m.jsonl").exists()


def test_two_files_with_one_id_are_named(tmp_path):  # issue 18 #7: the error named neither
    write_flac(tmp_path / "in" / "g.wav")
    write_flac(tmp_path / "in" / "g.flac")
    with pytest.raises(EdgeSSLError) as e:
        prepare_folder(tmp_path / "in", tmp_path / "m.jsonl")
    assert "'g'" in str(e.value) and str(tmp_path / "in" / "g.wav") in str(e.value) \
        and str(tmp_path / "in" / "g.flac") in str(e.value)
    assert not (tmp_path / "m.jsonl").exists()
