"""``edge-ssl prepare real``: run the real-audio sources, then split what they made.

    OUT_DIR/<source>/audio/<clip>.wav     16 kHz mono PCM_16
    OUT_DIR/<source>.jsonl                every clip of the source (written as soon as the source is done)
    OUT_DIR/heldout_real_test.jsonl       held-out real English test: whole characters never in training
    OUT_DIR/train_real_en.jsonl           every other English clip
    OUT_DIR/unlabeled_other.jsonl         non-English clips
    OUT_DIR/heldout_voice_unsure.jsonl    unlabeled clips that may be a held-out voice: in no split
    OUT_DIR/skipped.tsv                   clip <TAB> why it was left out
    OUT_DIR/corpus.json                   hours, clips, speakers per source and split; held-out speakers

The splits are made from every ``<source>.jsonl`` in OUT_DIR, so running one source later (``--sources
sky``) rebuilds them with the sources prepared before.

The held-out speakers are game characters with clean English dialogue, taken in the fixed order of
``HELDOUT_PREFERENCE`` until they add up to ``HELDOUT_MIN_MINUTES``; never Joe (the hero, a large share
of the game, stays in training). A clip whose speaker the package does not give (a queen cutaway line)
is kept out of training when its voice guess names a held-out character, so that a held-out voice is
not learned from an unlabeled line.
"""
from __future__ import annotations

import inspect
import json
import logging
from pathlib import Path
from typing import Any, Iterable, Sequence

from edge_ssl.data.manifest import Utterance, read_manifest, total_hours, write_manifest
from edge_ssl.data.prepare import PrepareReport
from edge_ssl.data.real import SOURCES, MissingPackage, load_source
from edge_ssl.errors import EdgeSSLError
from edge_ssl.atomic import atomic_write_text

log = logging.getLogger(__name__)

TEST, TRAIN, OTHER, UNSURE = "heldout_real_test", "train_real_en", "unlabeled_other", "heldout_voice_unsure"
HELDOUT_MIN_MINUTES = 30.0

# Queen characters whose voices a classifier on MFCC statistics tells from every other character best
# (5-fold CV on the dialogue clips, recall/precision: Jimmy 0.95/0.96, Death 0.95/0.95, Klunk 0.96/0.98,
# the zombie concubines 0.92/0.93, Naomi 0.81/0.81, the Oracle 0.85/0.83), so probably not an actor who
# also voices a training character; all speak plain English (unlike the ape, the dog, the parrot, the
# Pygmies). Women and men both. Labels come from their dialogue files (near-certain).
HELDOUT_PREFERENCE: tuple[str, ...] = (
    "queen:jimmy", "queen:death", "queen:klunk", "queen:zombie", "queen:naomi", "queen:oracle",
)
NEVER_HELDOUT = ("queen:joe",)
UNSURE_MIN_P = 0.2  # a voice guess this likely for a held-out character keeps an unlabeled clip out


class _Report(PrepareReport):
    """Collects skips without a warning per clip: a re-run meets the same too-short clips every time,
    so they go to skipped.tsv and one count line instead."""

    def skip(self, path: Path | str, reason: str) -> None:
        self.skipped.append((str(path), reason))


def _run_source(name: str, out_dir: Path, jobs: int) -> tuple[list[Utterance] | None, _Report, str | None]:
    """(rows or None, report, problem): a missing package or unwritten reader is a problem, not a crash."""
    report = _Report()
    try:
        extract = load_source(name)
        kwargs = {"jobs": jobs} if "jobs" in inspect.signature(extract).parameters else {}
        return extract(out_dir, report, **kwargs), report, None
    except MissingPackage as e:
        return None, report, str(e)
    except EdgeSSLError as e:
        return None, report, f"{name}: {e}" if not str(e).startswith(name) else str(e)


def pick_heldout(english: Sequence[Utterance], preference: Sequence[str] = HELDOUT_PREFERENCE,
                 min_minutes: float = HELDOUT_MIN_MINUTES) -> list[str]:
    """Held-out speakers: ``preference`` in order, those present, until ``min_minutes`` of audio."""
    minutes: dict[str, float] = {}
    for u in english:
        if u.speaker:
            minutes[u.speaker] = minutes.get(u.speaker, 0.0) + u.num_samples / 16000 / 60
    chosen, total = [], 0.0
    for spk in preference:
        if spk in minutes and spk not in NEVER_HELDOUT:
            chosen.append(spk)
            total += minutes[spk]
            if total >= min_minutes:
                break
    if total < min_minutes:
        log.warning("held-out test has %.1f min, less than %.0f: the preferred speakers are not all there",
                    total, min_minutes)
    return chosen


def _maybe_heldout_voice(u: Utterance, heldout: set[str]) -> bool:
    guess = u.extra.get("voice_guess") or {}
    source = str(u.extra.get("source", u.id.split("/", 1)[0]))
    return any(f"{source}:{name}" in heldout and p >= UNSURE_MIN_P for name, p in guess.items())


def split(utts: Iterable[Utterance], heldout: Sequence[str]) -> dict[str, list[Utterance]]:
    """{split name: rows}: speaker-disjoint test, English train, other languages, unsure (in no split)."""
    held = set(heldout)
    out: dict[str, list[Utterance]] = {TEST: [], TRAIN: [], OTHER: [], UNSURE: []}
    for u in utts:
        if u.extra.get("lang", "en") != "en":
            out[OTHER].append(u)
        elif u.speaker in held:
            out[TEST].append(u)
        elif u.speaker and u.speaker.endswith(":unknown") and _maybe_heldout_voice(u, held):
            out[UNSURE].append(u)
        else:
            out[TRAIN].append(u)
    test_speakers = {u.speaker for u in out[TEST]}
    leaked = test_speakers & {u.speaker for u in out[TRAIN]}
    if leaked:  # cannot happen by construction; a guard against later edits
        raise EdgeSSLError(f"held-out speakers also in training: {sorted(leaked)}")
    return out


def _stats(utts: Sequence[Utterance]) -> dict[str, Any]:
    return {"clips": len(utts), "hours": round(total_hours(utts), 3), "minutes": round(total_hours(utts) * 60, 1),
            "speakers": len({u.speaker for u in utts})}


def prepare_real(out_dir: str | Path = "data/real", sources: Sequence[str] | None = None,
                 jobs: int = 1) -> dict[str, Any]:
    """Run ``sources`` (default all), write their manifests, the splits and corpus.json; return the stats."""
    out_dir = Path(out_dir)
    names = list(sources) if sources else list(SOURCES)
    unknown = [n for n in names if n not in SOURCES]
    if unknown:
        raise EdgeSSLError(f"unknown real-audio source(s) {', '.join(unknown)}; known: {', '.join(SOURCES)}")
    out_dir.mkdir(parents=True, exist_ok=True)
    problems, skipped, ran = {}, [], []
    for name in names:
        utts, report, problem = _run_source(name, out_dir, jobs)
        skipped += [(name, p, r) for p, r in report.skipped]
        if problem:
            log.warning("%s", problem)
            problems[name] = problem
            continue
        if not utts:
            problems[name] = f"{name}: no usable clip ({len(report.skipped)} skipped)"
            log.warning("%s", problems[name])
            continue
        write_manifest(utts, out_dir / f"{name}.jsonl")
        ran.append(name)
        log.info("%s: %d clips, %.2f h -> %s (%d skipped)", name, len(utts), total_hours(utts),
                 out_dir / f"{name}.jsonl", len(report.skipped))
    if not ran:
        raise EdgeSSLError("no real-audio source produced a clip: " + "; ".join(problems.values()))
    if skipped:
        atomic_write_text(out_dir / "skipped.tsv", "".join(f"{s}\t{p}\t{r}\n" for s, p, r in skipped))

    per_source = {n: read_manifest(out_dir / f"{n}.jsonl") for n in SOURCES if (out_dir / f"{n}.jsonl").is_file()}
    every = [u for rows in per_source.values() for u in rows]
    heldout = pick_heldout([u for u in every if u.extra.get("lang", "en") == "en"], HELDOUT_PREFERENCE)
    splits = split(every, heldout)
    for name, rows in splits.items():
        write_manifest(rows, out_dir / f"{name}.jsonl")
    stats = {
        "sources": {n: {**_stats(rows), "langs": sorted({str(u.extra.get("lang", "en")) for u in rows}),
                        "speaker_list": sorted({u.speaker for u in rows if u.speaker})}
                    for n, rows in per_source.items()},
        "splits": {n: {**_stats(rows), "manifest": f"{n}.jsonl"} for n, rows in splits.items()},
        "heldout_speakers": heldout,
        "heldout_minutes": {s: round(sum(u.num_samples for u in splits[TEST] if u.speaker == s) / 16000 / 60, 1)
                            for s in heldout},
        "problems": problems,
        "skipped_this_run": len(skipped),
        "notes": {
            TEST: "whole characters held out (speaker-disjoint from train); never Joe",
            UNSURE: f"unlabeled clips whose voice guess gives a held-out character p >= {UNSURE_MIN_P}: in no split",
            "queen:unknown": "queen clips whose speaker the game files do not give (cutaways, scene lines): "
                             "counted as one speaker but several voices",
        },
    }
    atomic_write_text(out_dir / "corpus.json", json.dumps(stats, indent=2, ensure_ascii=False) + "\n")
    return stats
