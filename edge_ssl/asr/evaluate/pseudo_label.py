"""Pseudo-labels: transcribe an unlabeled manifest with teacher ASR engines, keep what they agree on.

Two stages, so that hours of teacher decoding are never redone:

1. ``decode_manifest``: one teacher over every utterance -> ``<out>/hyps/<teacher>.beam<k>.jsonl``, one line per
   utterance (raw text, normalised text, confidence), appended and flushed as it goes. A killed run resumes
   where it stopped: ids already there are skipped and a torn last line is dropped. Unreadable audio becomes
   an ``error`` line, so it is reported once and not retried.
2. ``select_labels``: joins the teachers' lines and keeps an utterance when the teachers agree (CER between
   their normalised texts at most ``max_cer``) or the first teacher is confident (``min_confidence``);
   ``strict`` keeps only identical normalised texts (the held-out test references). Writes a labeled
   manifest (``text`` = the first teacher's normalised text) and a report with kept fractions per source.

A teacher is a peer engine name (``whisper-base``, ``whisper-tiny.en``, ``pocketsphinx``) or a CTC model of
this toolkit (a ``.safetensors``/``.onnx``/``.pte`` path): any of them scores a wave as (text, confidence).
"""
from __future__ import annotations

import json
import logging
import math
import os
import time
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, NamedTuple

import numpy as np
from tqdm import tqdm

from edge_ssl.asr.evaluate.metrics import error_counts
from edge_ssl.asr.decode.tokenizer import normalize_text
from edge_ssl.data.manifest import Utterance, read_manifest, write_manifest
from edge_ssl.errors import EdgeSSLError
from edge_ssl.atomic import atomic_write_text

log = logging.getLogger(__name__)

Scorer = Callable[[np.ndarray], tuple[str, float]]  # wave (S,) float32 16 kHz -> (text, confidence in [0, 1])
MAX_CHARS_PER_SECOND = 25.0  # faster than any speaker: a hallucinated or looping transcript


def teacher_slug(teacher: str) -> str:
    """A file-name-safe name for a teacher: the engine name, or the model file's stem."""
    from edge_ssl.asr.evaluate.peers import ENGINES

    return teacher if teacher in ENGINES else Path(teacher).stem.replace(" ", "_")


def ctc_scorer(path: str | Path, threads: int = 1) -> Scorer:
    """A CTC model as a teacher: greedy text, confidence = mean max-posterior over non-blank frames."""
    from edge_ssl.asr.transcribe import decode, open_model

    runner = open_model(path, threads=threads)

    def score(wave: np.ndarray) -> tuple[str, float]:
        logits = runner.run(wave)                                           # (T, V)
        logp = logits - np.logaddexp.reduce(logits, axis=-1, keepdims=True)  # log-softmax
        best = logp.argmax(-1)                                              # (T,)
        speech = best != runner.blank_id
        conf = float(np.exp(logp.max(-1)[speech]).mean()) if speech.any() else 0.0
        return decode(runner, logits), conf

    return score


def open_teacher(teacher: str, threads: int = 1, beam_size: int = 5) -> Scorer:
    from edge_ssl.asr.evaluate.peers import ENGINES, open_peer

    if teacher in ENGINES:
        peer = open_peer(teacher, threads=threads, beam_size=beam_size)
        return getattr(peer, "transcribe_scored", None) or (lambda wave: (peer.transcribe(wave), math.nan))
    if not Path(teacher).is_file():
        raise EdgeSSLError(f"teacher {teacher!r} is neither an engine ({', '.join(ENGINES)}) nor a model file")
    return ctc_scorer(teacher, threads)


def _read_done(path: Path) -> dict[str, dict]:
    """The lines of a hypothesis file written so far; a torn last line (killed mid-write) is cut off."""
    done: dict[str, dict] = {}
    if not path.is_file():
        return done
    good = 0
    with open(path, "rb") as f:
        for raw in f:
            try:
                row = json.loads(raw)
                done[row["id"]] = row
            except (json.JSONDecodeError, KeyError, TypeError):
                break  # only the last line can be torn; it is redone
            good += len(raw)
    if good < path.stat().st_size:
        log.info("%s: dropping a torn last line", path)
        os.truncate(path, good)
    return done


def _read_lines(path: Path) -> dict[str, dict]:
    """A hypothesis file read without repairing it (another process may be appending to it)."""
    done: dict[str, dict] = {}
    if path.is_file():
        for raw in path.read_bytes().splitlines():
            try:
                row = json.loads(raw)
                done[row["id"]] = row
            except (json.JSONDecodeError, KeyError, TypeError):
                continue  # a line being written
    return done


def decode_manifest(utts: list[Utterance], score: Scorer, out: Path, desc: str = "pseudo-label") -> dict[str, dict]:
    """Run ``score`` over ``utts``, appending one JSON line per utterance to ``out``; skips ids already there.

    Returns every line of ``out`` by id (old and new)."""
    from edge_ssl.audio.io import load_audio

    out.parent.mkdir(parents=True, exist_ok=True)
    done = _read_done(out)
    todo = [u for u in utts if u.id not in done]
    if not todo:
        return done
    audio_s = decode_s = 0.0
    bar = tqdm(todo, desc=desc, unit="utt", initial=len(utts) - len(todo), total=len(utts), dynamic_ncols=True)
    with open(out, "a", encoding="utf-8") as f:
        for u in bar:
            try:
                wave = load_audio(u.audio_path)
                t0 = time.perf_counter()
                text, conf = score(wave)
                decode_s += time.perf_counter() - t0
                audio_s += len(wave) / 16000
                row = {"id": u.id, "text": text, "norm": normalize_text(text),
                       "confidence": None if math.isnan(conf) else round(conf, 4)}
            except EdgeSSLError as e:  # unreadable or too short: reported once, kept as an error line
                tqdm.write(f"skipping {u.id}: {e}")
                row = {"id": u.id, "error": str(e)}
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
            f.flush()
            done[u.id] = row
            if audio_s:
                bar.set_postfix(rtf=f"{decode_s / audio_s:.3f}", refresh=False)
    return done


@dataclass
class SelectRule:
    max_cer: float = 0.1             # keep when the teachers' normalised texts differ by at most this CER
    min_confidence: float = 0.0      # ... or when the first teacher's confidence is at least this (0 = off)
    strict: bool = False             # keep only identical normalised texts (test references)
    text_key: str | None = None      # label with this manifest key's text (e.g. a script); the teachers vote on it
    check_key: str | None = None     # compare kept labels with this key's text (a spot-check), where present
    text_fallback: bool = False      # with text_key: where the key is missing or the teachers reject its text,
                                     # label from the teachers' own agreement instead (training sets)


@dataclass
class SourceStats:
    total: int = 0
    decoded: int = 0                 # every teacher produced a line without error
    kept: int = 0
    kept_by_agreement: int = 0
    kept_by_confidence: int = 0
    identical: int = 0               # normalised texts identical across teachers
    hours_kept: float = 0.0
    checked: int = 0                 # kept utterances that have the check_key text
    check_identical: int = 0         # ... whose label equals it after normalisation
    check_cer: float = 0.0           # ... mean CER of the label against it
    rejected: dict[str, int] = field(default_factory=dict)  # reason -> count


def _reject_reason(hyps: list[dict], seconds: float) -> str | None:
    if any("error" in h for h in hyps):
        return "unreadable audio"
    if not hyps[0]["norm"]:
        return "empty transcript"
    if len(hyps[0]["norm"]) / max(seconds, 1e-3) > MAX_CHARS_PER_SECOND:
        return "too many characters per second"
    return None


class Verdict(NamedTuple):
    reason: str | None   # why the clip is rejected; None = kept
    by: str | None       # agreement | confidence, when kept
    cer: float           # the label row against the other rows, max (nan: nothing to compare)
    identical: bool      # all rows identical after normalisation
    voted: bool          # the rows were readable and went to the vote (counted as decoded)


def _judge(rows: list[dict], rule: SelectRule, seconds: float) -> Verdict:
    reason = _reject_reason(rows, seconds)
    if reason is not None:
        return Verdict(reason, None, math.nan, False, False)
    cer = max((agreement_cer(rows[0]["norm"], r["norm"]) for r in rows[1:]), default=math.nan)
    identical = all(r["norm"] == rows[0]["norm"] for r in rows[1:]) and len(rows) > 1
    conf = rows[0].get("confidence")
    if rule.strict:
        by = "agreement" if identical else None
    elif len(rows) > 1 and cer <= rule.max_cer:
        by = "agreement"
    elif rule.min_confidence > 0 and conf is not None and conf >= rule.min_confidence:
        by = "confidence"
    else:
        by = None
    if by is None:
        return Verdict("teachers disagree" if len(rows) > 1 else "low confidence", None, cer, identical, True)
    return Verdict(None, by, cer, identical, True)


def agreement_cer(a: str, b: str) -> float:
    """CER of ``b`` against ``a`` (both normalised); 0 when both are empty."""
    if not a:
        return 0.0 if not b else 1.0
    return error_counts(a, b).cer


def select_labels(utts: list[Utterance], hyps: list[dict[str, dict]], teachers: list[str], rule: SelectRule,
                  out_manifest: Path) -> dict[str, SourceStats]:
    """Keep the utterances the rule accepts, labeled with the first teacher's normalised text (or the
    ``rule.text_key`` text, which every teacher must then agree with; with ``rule.text_fallback``, clips
    without that text or whose text the teachers reject fall back to the teachers' own vote).

    Per-utterance provenance goes into the manifest row: ``pl_teachers``, ``pl_confidence``, ``pl_cer``
    (between the label and each other teacher, max), ``pl_kept_by`` (agreement | confidence),
    ``pl_label_from`` (the text key or the teacher the label came from), and
    ``pl_check_cer`` against ``rule.check_key``'s text where there is one."""
    stats: dict[str, SourceStats] = defaultdict(SourceStats)
    kept: list[Utterance] = []
    for u in utts:
        s = stats[str(u.extra.get("source", "all"))]
        s.total += 1
        rows = [h.get(u.id) for h in hyps]
        if any(r is None for r in rows):
            s.rejected["not decoded yet"] = s.rejected.get("not decoded yet", 0) + 1
            continue
        seconds = u.num_samples / 16000
        text = u.extra.get(rule.text_key) if rule.text_key else None
        if rule.text_key and not isinstance(text, str) and not rule.text_fallback:
            s.rejected[f"no {rule.text_key}"] = s.rejected.get(f"no {rule.text_key}", 0) + 1
            continue
        label_from, verdict = teachers[0], None
        if isinstance(text, str):
            with_text = [{"norm": normalize_text(text), "confidence": None}, *rows]
            judged = _judge(with_text, rule, seconds)
            if judged.reason is None or not rule.text_fallback:  # else: the teachers' own vote below
                label_from, verdict, rows = rule.text_key, judged, with_text
        reason, by, cer, identical, voted = verdict or _judge(rows, rule, seconds)
        s.decoded += voted
        s.identical += identical
        if reason is not None:
            s.rejected[reason] = s.rejected.get(reason, 0) + 1
            continue
        conf = rows[0].get("confidence")
        s.kept += 1
        s.hours_kept += seconds / 3600
        setattr(s, f"kept_by_{by}", getattr(s, f"kept_by_{by}") + 1)
        extra = {**u.extra, "pl_teachers": teachers, "pl_confidence": conf,
                 "pl_cer": None if math.isnan(cer) else round(cer, 4), "pl_kept_by": by, "pl_label_from": label_from}
        if rule.check_key and isinstance(u.extra.get(rule.check_key), str):
            check = agreement_cer(normalize_text(u.extra[rule.check_key]), rows[0]["norm"])
            extra["pl_check_cer"] = round(check, 4)
            s.check_cer = (s.check_cer * s.checked + check) / (s.checked + 1)
            s.checked += 1
            s.check_identical += check == 0
        kept.append(Utterance(u.id, u.audio_path, u.num_samples, rows[0]["norm"], u.speaker, extra))
    if not kept:
        raise EdgeSSLError(f"no utterance passed the selection ({dict(sum((Counter(s.rejected) for s in stats.values()), Counter()))}); "
                           f"nothing written to {out_manifest}")
    write_manifest(kept, out_manifest)
    return dict(stats)


def pseudo_label(manifest: str | Path, out_dir: str | Path, teachers: list[str], rule: SelectRule,
                 threads: int = 1, beam_size: int = 5, limit: int | None = None,
                 name: str = "labeled", decode_only: bool = False, select_only: bool = False,
                 hyps_dir: str | Path | None = None) -> tuple[Path | None, dict[str, SourceStats]]:
    """Decode ``manifest`` with each teacher (resumable), then select; writes ``<out_dir>/<name>.jsonl`` and
    ``<out_dir>/<name>.report.json``. Returns (manifest path, stats per source). ``decode_only``: stop after
    decoding (teachers run as separate processes, one per core, then one selection run joins them);
    ``select_only``: run no teacher, select from what is decoded so far (the rest counts as not decoded yet).
    ``hyps_dir``: where the teachers' files live (default ``<out_dir>/hyps``); a recipe keeps them in the
    repository, since they cost CPU-hours and are small."""
    if not teachers:
        raise EdgeSSLError("pseudo-label needs at least one teacher")
    out_dir = Path(out_dir)
    utts = read_manifest(manifest)
    if limit:
        utts = utts[:limit]
    hyps = []
    for t in teachers:
        path = Path(hyps_dir or out_dir / "hyps") / f"{teacher_slug(t)}.beam{beam_size}.jsonl"  # decodes of one setting only
        done = _read_done(path) if not select_only else _read_lines(path)
        if select_only or all(u.id in done for u in utts):
            hyps.append(done)
            continue
        hyps.append(decode_manifest(utts, open_teacher(t, threads, beam_size), path, desc=teacher_slug(t)))
    if decode_only:
        return None, {}
    out = out_dir / f"{name}.jsonl"
    stats = select_labels(utts, hyps, teachers, rule, out)
    report = {"manifest": str(manifest), "teachers": teachers, "kept": sum(s.kept for s in stats.values()), "rule": asdict(rule), "beam_size": beam_size,
              "sources": {k: asdict(v) for k, v in sorted(stats.items())}}
    atomic_write_text(out_dir / f"{name}.report.json", json.dumps(report, indent=2) + "\n")
    return out, stats
