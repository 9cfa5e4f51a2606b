"""``edge-ssl transcribe`` on bad input (issue 18): a truncated file, folders with nothing to transcribe,
outputs that would overwrite each other, an --out-dir that is a file, an unknown VAD."""
import numpy as np
import pytest
import soundfile as sf

from edge_ssl.audio.io import save_wav


def noise(path, seconds=1.0, sr=16000, **kw):
    path.parent.mkdir(parents=True, exist_ok=True)
    w = 0.1 * np.random.default_rng(0).standard_normal(int(seconds * sr)).astype(np.float32)
    if path.suffix == ".wav":
        save_wav(path, w, sr)
    else:
        sf.write(path, w, sr, **kw)
    return path


def test_truncated_ogg_is_reported_and_fails(run_cli, tiny_ctc, tmp_path):  # #1
    path = noise(tmp_path / "t.ogg", 3.0, format="OGG", subtype="VORBIS")
    path.write_bytes(path.read_bytes()[:9000])
    code, err = run_cli("transcribe", path, "-m", tiny_ctc, "--vad", "energy")
    assert code == 1 and f"{path}: truncated" in err and "1 of 1 files failed" in err


@pytest.mark.parametrize("content", [None, "notes.txt"])
def test_folder_without_audio_is_an_error(run_cli, tiny_ctc, tmp_path, content):  # #2
    folder = tmp_path / "in"
    folder.mkdir()
    if content:
        (folder / content).write_text("not audio")
    code, err = run_cli("transcribe", folder, "-m", tiny_ctc)
    assert code == 2 and f"{folder}: no audio files" in err


def test_out_dir_gives_every_input_its_own_file(run_cli, tiny_ctc, tmp_path):  # #3
    d = tmp_path / "in"
    inputs = [noise(d / "a" / "x.wav"), noise(d / "b" / "x.wav"), noise(d / "g.wav"), noise(d / "g.flac")]
    code, err = run_cli("transcribe", d, "-m", tiny_ctc, "--vad", "energy", "--out-dir", tmp_path / "out")
    assert code in (0, None), err
    written = sorted(p.relative_to(tmp_path / "out").as_posix() for p in (tmp_path / "out").rglob("*.txt"))
    assert written == ["a/x.txt", "b/x.txt", "g.flac.txt", "g.wav.txt"]
    assert {(tmp_path / "out" / w).read_text().split("\t")[0] for w in written} == {str(p) for p in inputs}

    # the same two files given one by one: still two outputs, under their common folder
    code, err = run_cli("transcribe", d / "a" / "x.wav", d / "b" / "x.wav", "-m", tiny_ctc, "--vad", "energy",
                        "--out-dir", tmp_path / "out2")
    assert code in (0, None), err
    assert sorted(p.relative_to(tmp_path / "out2").as_posix() for p in (tmp_path / "out2").rglob("*.txt")) == \
        ["a/x.txt", "b/x.txt"]


def test_out_dir_that_is_a_file_fails_before_any_work(run_cli, tiny_ctc, tmp_path):  # #4
    (tmp_path / "taken").write_text("a file")
    code, err = run_cli("transcribe", noise(tmp_path / "x.wav"), noise(tmp_path / "y.wav"), "-m", tiny_ctc,
                        "--out-dir", tmp_path / "taken")
    assert code == 2 and f"{tmp_path / 'taken'}: exists and is not a folder" in err
    assert "Traceback" not in err


def test_unknown_vad_is_one_usage_error(run_cli, tiny_ctc, tmp_path):  # smaller: once, not once per file
    code, err = run_cli("transcribe", noise(tmp_path / "x.wav"), noise(tmp_path / "y.wav"), "-m", tiny_ctc,
                        "--vad", "foo")
    assert code == 2 and err.count("unknown VAD 'foo'") == 1
