"""Pseudo-label selection rules and resume, on fixed teacher lines (no engine needed)."""
import json
from pathlib import Path

import numpy as np
import pytest

from edge_ssl.asr.evaluate.pseudo_label import SelectRule, decode_manifest, select_labels
from edge_ssl.audio.io import save_wav
from edge_ssl.data.manifest import Utterance, read_manifest
from edge_ssl.errors import EdgeSSLError


def _utts(n, source="queen"):
    return [Utterance(f"u{i}", Path(f"/nowhere/u{i}.wav"), 32000, None, "spk", {"source": source}) for i in range(n)]


def _h(norm, conf=0.9):
    return {"text": norm.upper(), "norm": norm, "confidence": conf}


def test_agreement_confidence_and_strict_rules(tmp_path):
    utts = _utts(5)
    a = {"u0": _h("go to the door"), "u1": _h("go to the door"), "u2": _h("open it", 0.99),
         "u3": _h(""), "u4": {"error": "bad file"}}
    b = {"u0": _h("go to the door"), "u1": _h("go to the doors"), "u2": _h("hello there"),
         "u3": _h(""), "u4": _h("x")}
    for k in a:
        a[k]["id"] = b[k]["id"] = k

    stats = select_labels(utts, [a, b], ["A", "B"], SelectRule(max_cer=0.1), tmp_path / "m.jsonl")
    s = stats["queen"]
    assert (s.total, s.kept, s.kept_by_agreement, s.identical) == (5, 2, 2, 1)  # u1: one inserted char
    assert s.rejected == {"teachers disagree": 1, "empty transcript": 1, "unreadable audio": 1}
    rows = read_manifest(tmp_path / "m.jsonl")
    assert [r.id for r in rows] == ["u0", "u1"] and rows[1].text == "go to the door"
    assert rows[1].extra["pl_kept_by"] == "agreement" and rows[1].extra["pl_cer"] == pytest.approx(1 / 14, abs=0.01)

    stats = select_labels(utts, [a, b], ["A", "B"], SelectRule(max_cer=0.1, min_confidence=0.95), tmp_path / "c.jsonl")
    assert (stats["queen"].kept, stats["queen"].kept_by_confidence) == (3, 1)  # u2 kept on A's confidence

    stats = select_labels(utts, [a, b], ["A", "B"], SelectRule(strict=True), tmp_path / "s.jsonl")
    assert [r.id for r in read_manifest(tmp_path / "s.jsonl")] == ["u0"]


def test_hallucination_rate_is_rejected_and_nothing_kept_is_an_error(tmp_path):
    utts = [Utterance("u0", Path("/x.wav"), 1600, None)]  # 0.1 s of audio
    a = {"u0": {"id": "u0", **_h("a very long sentence that nobody says in a tenth of a second")}}
    with pytest.raises(EdgeSSLError, match="too many characters per second"):
        select_labels(utts, [a, a], ["A", "A"], SelectRule(), tmp_path / "m.jsonl")
    assert not (tmp_path / "m.jsonl").exists()


def test_decode_resumes_after_a_torn_line_and_reports_bad_audio(tmp_path):
    good = tmp_path / "a.wav"
    save_wav(good, np.zeros(8000, np.float32))
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF....WAVEnot audio")
    utts = [Utterance(f"u{i}", good, 8000) for i in range(3)] + [Utterance("bad", bad, 8000)]
    out = tmp_path / "hyps" / "t.jsonl"
    out.parent.mkdir()
    out.write_text(json.dumps({"id": "u0", "text": "x", "norm": "x", "confidence": 1.0}) + "\n{\"id\": \"u1\", \"te")
    calls = []

    def score(wave):
        calls.append(len(wave))
        return "Hello, 2 you!", 0.5

    done = decode_manifest(utts, score, out)
    assert len(calls) == 2                                   # u0 was done; the torn u1 is redone; u2
    assert done["u1"]["norm"] == "hello two you" and "error" in done["bad"]
    lines = [json.loads(x) for x in out.read_text().splitlines()]
    assert [x["id"] for x in lines] == ["u0", "u1", "u2", "bad"]
    assert decode_manifest(utts, score, out) == done and len(calls) == 2  # all done: nothing decoded again


def test_text_key_labels_from_a_script_and_check_key_spot_checks(tmp_path):
    utts = _utts(3)
    utts[0].extra["script"] = "Go to the door!"
    utts[1].extra["script"] = "Something else entirely"
    a = {f"u{i}": {"id": f"u{i}", **_h("go to the door")} for i in range(3)}
    stats = select_labels(utts, [a, a], ["A", "B"], SelectRule(max_cer=0.2, text_key="script"), tmp_path / "t.jsonl")
    assert stats["queen"].kept == 1 and stats["queen"].rejected == {"teachers disagree": 1, "no script": 1}
    assert read_manifest(tmp_path / "t.jsonl")[0].text == "go to the door"

    stats = select_labels(utts, [a, a], ["A", "B"], SelectRule(strict=True, check_key="script"), tmp_path / "c.jsonl")
    s = stats["queen"]
    assert (s.kept, s.checked, s.check_identical) == (3, 2, 1) and 0.2 < s.check_cer < 0.6  # mean of 0 and one large CER
    assert "pl_check_cer" not in read_manifest(tmp_path / "c.jsonl")[2].extra


def test_text_fallback_labels_the_rest_from_the_teachers_vote(tmp_path):
    utts = _utts(4)
    utts[0].extra["script"] = "Go to the door!"            # the teachers agree with it: the script's text
    utts[1].extra["script"] = "Something else entirely"    # they reject it, agree among themselves: their text
    utts[3].extra["script"] = "Open it"                    # rejected, and the teachers disagree: dropped
    a = {f"u{i}": {"id": f"u{i}", **_h("go to the door")} for i in range(4)}
    b = {**a, "u3": {"id": "u3", **_h("hello there")}}
    rule = SelectRule(max_cer=0.2, text_key="script", text_fallback=True)
    stats = select_labels(utts, [a, b], ["A", "B"], rule, tmp_path / "f.jsonl")
    assert stats["queen"].kept == 3 and stats["queen"].rejected == {"teachers disagree": 1}
    rows = read_manifest(tmp_path / "f.jsonl")
    assert [(r.id, r.extra["pl_label_from"]) for r in rows] == [("u0", "script"), ("u1", "A"), ("u2", "A")]
    assert [r.text for r in rows] == ["go to the door"] * 3


def test_select_only_runs_no_teacher_and_counts_the_rest(tmp_path):
    from edge_ssl.asr.evaluate.pseudo_label import pseudo_label
    from edge_ssl.data.manifest import write_manifest

    utts = _utts(3)
    manifest = write_manifest(utts, tmp_path / "m.jsonl")
    hyps = tmp_path / "hyps"
    hyps.mkdir()
    line = json.dumps({"id": "u0", **_h("hello there")}) + "\n"
    (hyps / "whisper-base.beam5.jsonl").write_text(line + '{"id": "u1", "te')  # another process mid-write
    (hyps / "whisper-tiny.en.beam5.jsonl").write_text(line)
    out, stats = pseudo_label(manifest, tmp_path, ["whisper-base", "whisper-tiny.en"], SelectRule(),
                              select_only=True, hyps_dir=hyps)
    assert stats["queen"].kept == 1 and stats["queen"].rejected == {"not decoded yet": 2}
    assert (hyps / "whisper-base.beam5.jsonl").read_text().endswith('"te')  # left as the writer has it
