"""``transcribe`` on a directory of mixed-rate, mixed-channel files: long files cut by the same VAD as
``listen``, timestamps in JSONL/SRT, bad files reported and skipped."""
import json
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf
import soxr
import torch

from edge_ssl.asr.stream.segment import segment_wave
from edge_ssl.data.tts import build_dialogue
from edge_ssl.asr.stream.session import open_recognizer, transcribe_wave
from edge_ssl.asr.decode.tokenizer import CharTokenizer
from edge_ssl.asr.stream.vad import SileroVad
from edge_ssl.audio.io import load_audio
from edge_ssl.models.ctc import CTCModel
from edge_ssl.models.speech_encoder import tiny
from edge_ssl.models.store import save_model

pytestmark = pytest.mark.e2e


def cli(*args):
    return subprocess.run([sys.executable, "-m", "edge_ssl", *map(str, args)], capture_output=True, text=True,
                          timeout=300)


def in_process(*args):
    from typer.testing import CliRunner

    from edge_ssl.cli import app

    return CliRunner().invoke(app, [str(a) for a in args])


def test_transcribe_directory_of_mixed_files(tmp_path):
    torch.manual_seed(0)
    tok, cfg = CharTokenizer(), tiny()
    model = tmp_path / "tiny.safetensors"
    save_model(CTCModel(cfg, tok.vocab_size), model, "ctc", cfg, vocab=list(tok.tokens))
    wave, spans = build_dialogue(["open the door", "close the window now", "thank you"], [0.4, 0.9, 1.0, 0.5])
    d = tmp_path / "in"
    (d / "sub").mkdir(parents=True)
    sf.write(str(d / "a.wav"), wave, 16000, subtype="PCM_16")
    sf.write(str(d / "sub" / "b.flac"), np.stack([soxr.resample(wave, 16000, 44100)] * 2, axis=1), 44100)
    sf.write(str(d / "c.wav"), soxr.resample(wave, 16000, 8000), 8000, subtype="PCM_16")
    (d / "broken.wav").write_bytes(b"RIFF\x10\x00\x00\x00WAVEjunk")
    (d / "notes.txt").write_text("not audio")  # ignored: not an audio suffix

    r = cli("transcribe", d, "--model", model, "--format", "jsonl")
    assert r.returncode == 1 and "broken.wav" in r.stderr and "1 of 4 files failed" in r.stderr
    rows = [json.loads(x) for x in r.stdout.splitlines()]
    by_file = {}
    for row in rows:
        by_file.setdefault(row["file"], []).append(row)
    assert sorted(by_file) == sorted(str(d / n) for n in ("a.wav", "sub/b.flac", "c.wav"))
    rec, a = open_recognizer(model), load_audio(d / "a.wav")
    segs = segment_wave(a, SileroVad())
    assert [x["text"] for x in by_file[str(d / "a.wav")]] == [transcribe_wave(rec, a[s.start:s.end]) for s in segs]
    for rows_ in by_file.values():  # every rate / channel count finds the same utterances at the same times
        assert len(rows_) == len(spans)
        for row, (s0, s1) in zip(rows_, spans):
            assert row["start"] <= s0 / 16000 + 0.1 and row["end"] >= s1 / 16000 - 0.15 and row["text"]

    r = in_process("transcribe", d / "a.wav", d / "c.wav", "--model", model, "--format", "srt",
                   "--out-dir", tmp_path / "srt")
    assert r.exit_code == 0, r.output
    srt = (tmp_path / "srt" / "a.srt").read_text().split("\n\n")
    assert srt[0].splitlines()[0] == "1" and " --> " in srt[0].splitlines()[1] and len([b for b in srt if b]) == 3

    r = in_process("transcribe", d / "a.wav", "--model", model)  # default: one `file<TAB>text` line per file
    assert r.exit_code == 0 and r.stdout.count("\n") == 1 and r.stdout.startswith(f"{d / 'a.wav'}\t")


def test_srt_and_timestamp_formats():
    from pathlib import Path

    from edge_ssl.asr.transcribe import format_segments

    segs = [{"start": 0.316, "end": 1.284, "text": "hello"}, {"start": 3661.5, "end": 3662.0, "text": "there"}]
    assert format_segments(Path("a.wav"), segs, "srt") == \
        "1\n00:00:00,316 --> 00:00:01,284\nhello\n\n2\n01:01:01,500 --> 01:01:02,000\nthere\n\n"
    assert format_segments(Path("a.wav"), segs, "timestamps").splitlines()[1] == "a.wav\t3661.50\t3662.00\tthere"
    assert format_segments(Path("a.wav"), segs, "text") == "a.wav\thello there\n"
    with pytest.raises(Exception, match="unknown output format"):
        format_segments(Path("a.wav"), segs, "vtt")
