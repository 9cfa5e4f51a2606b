"""A small fixed slice of the held-out real speakers, for the demo and the tests: 21 clips (80 s) of the six
held-out Queen characters, up to four each, extracted from the installed game package in seconds.

``heldout_slice.jsonl`` lists them with the game's own line as the reference. They were chosen by a rule,
not by any model's output on them: clips of 2.5-6 s with at least six words whose script line both Whisper
teachers reproduce exactly (clear speech), the first four per character in id order. Every clip is in
``heldout_real_test.script.jsonl``, so no training run of this toolkit has heard its speaker.
"""
from __future__ import annotations

import json
from pathlib import Path

from edge_ssl.data.manifest import Utterance, write_manifest
from edge_ssl.errors import EdgeSSLError

SLICE = Path(__file__).resolve().parent / "heldout_slice.jsonl"


def slice_rows() -> list[dict]:
    """The slice's rows: id, speaker, text (the game's line), seconds."""
    return [json.loads(line) for line in SLICE.read_text().splitlines() if line.strip()]


def extract_heldout_slice(out_dir: str | Path) -> Path:
    """Extract the slice's clips from the Queen package into ``out_dir`` -> ``out_dir/heldout_slice.jsonl``
    (text = the game's line). A missing package is an EdgeSSLError that says what to install."""
    from edge_ssl.data.prepare import PrepareReport
    from edge_ssl.data.real import queen

    out_dir = Path(out_dir)
    rows = {r["id"]: r for r in slice_rows()}
    report = PrepareReport()
    got = {u.id: u for u in queen.extract(out_dir, report, only=set(rows))}
    lost = [i for i in rows if i not in got]
    changed = [i for i in rows if i in got and got[i].extra.get("game_text") != rows[i]["text"]]
    if changed:
        raise EdgeSSLError(f"held-out slice: the package's line differs for {', '.join(changed)} (another version "
                           f"of {queen.PACKAGE}?)")
    if lost:
        reasons = "; ".join(f"{p}: {r}" for p, r in report.skipped) or "not extracted"
        raise EdgeSSLError(f"held-out slice: {len(lost)} clip(s) missing ({', '.join(lost)}): {reasons}")
    utts = [Utterance(i, got[i].audio_path, got[i].num_samples, r["text"], r["speaker"], {"source": "queen"})
            for i, r in rows.items()]
    return write_manifest(utts, out_dir / "heldout_slice.jsonl")
