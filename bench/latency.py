"""Words on screen after speech ends: p50/p90 over a replay set of real and TTS sentences, and the split rate.

The replay set (``bench/replay_set.py``) is played at real time through ``FileSource`` (32 ms blocks, like
a microphone) into the same ``StreamingSession`` and rich ``LiveDisplay`` that ``listen`` uses (drawing to
an in-memory terminal), once per endpoint rule set, in one process.

The measure, per sentence: **latency = t_shown - t_spoken(end)**, where ``end`` is the sentence's true end
of speech in the replayed audio (its clip trimmed by ``replay_set.speech_bounds``, one rule for every
source), ``t_spoken(end)`` the wall time that sample was captured (the block holding it arrived at
``chunk.arrived``; a sample ``k`` samples before the block's end was spoken ``k / 16000`` s earlier), and
``t_shown`` the wall time at which the display call for the last final overlapping the sentence returned:
from then on the sentence's whole text is on screen and is never rewritten.

- **split rate**: sentences whose text came in more than one final (cut at a pause inside the sentence);
- **line-split rate**: sentences broken across lines (a final inside the sentence that does not join the
  one before it): what a split looks like without ``commit_silence``;
- **missed**: sentences no final overlaps; **merged**: finals that span two sentences;
- **CER** of each sentence's line text against its reference (the game's line / the TTS prompt), and
  against the offline transcription of the whole sentence (what the cuts cost on their own).

    .venv/bin/python bench/latency.py                    # test set, rules "before" and "live", bundled .pte
    .venv/bin/python bench/latency.py --set dev --rules live --commit-silence 0.096 --speech-pad 0.064

Writes ``bench/results/latency_<set>.json``. Timings on a shared 2-core machine are inflated: the load
average (1 min) before and after each run is printed and recorded.
"""
from __future__ import annotations

import argparse
import io
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np

RULES = ("before", "live")  # before: the pre-issue-17 listen defaults (0.5 s silence ends the utterance)


def endpoint_for(rule: str, args):
    from edge_ssl.asr.stream.endpoint import EndpointConfig, live_endpoint

    if rule == "before":
        return EndpointConfig(trailing_silence=0.5, speech_pad=0.1)
    given = {"commit_silence": args.commit_silence, "commit_max_prob": args.commit_max_prob,
             "speech_pad": args.speech_pad}
    return live_endpoint(trailing_silence=args.trailing_silence, **{k: v for k, v in given.items() if v is not None})


def replay(model: Path, wav: Path, endpoint, args) -> tuple[list, list[tuple[int, float]], object]:
    """Play ``wav`` live -> (finals with the wall time they were on screen, (samples so far, arrived) per chunk,
    the session)."""
    from rich.console import Console

    from edge_ssl.asr.stream.session import Final, StreamConfig, open_session, run_stream
    from edge_ssl.asr.stream.vad import VadConfig
    from edge_ssl.audio.sources import FileSource
    from edge_ssl.cli.apps import LiveDisplay

    session = open_session(model, VadConfig(kind=args.vad), endpoint, StreamConfig(mode=args.mode),
                           threads=args.threads)
    display = LiveDisplay(session.sr, Console(file=io.StringIO(), force_terminal=True, width=160))
    shown, arrivals = [], []

    def show(ev):
        display(ev)
        if isinstance(ev, Final):
            shown.append((ev, time.monotonic()))

    def timed(source):
        n = 0
        for chunk in source:
            n += len(chunk.samples)
            arrivals.append((n, chunk.arrived))
            yield chunk

    source = FileSource(wav, session.sr, speed=1.0)
    with source, display:
        run_stream(timed(source), session, show)
    if source.dropped:
        raise RuntimeError(f"{source.dropped} frames dropped: the replay fell a minute behind")
    return shown, arrivals, session


def spoken_at(sample: int, arrivals: list[tuple[int, float]], sr: int) -> float:
    """Wall time at which stream sample ``sample`` was captured."""
    ends = np.array([n for n, _ in arrivals])
    k = int(np.searchsorted(ends, sample, side="right"))  # first chunk holding it
    n, t = arrivals[min(k, len(arrivals) - 1)]
    return t - (n - sample) / sr


def score(sentences, shown, arrivals, sr: int) -> dict:
    """Per sentence: latency, pieces, lines; plus the merges."""
    rows, merged = [], 0
    for f, _ in shown:
        merged += sum(f.segment.start < s.end and f.segment.end > s.start for s in sentences) > 1
    for s in sentences:
        mine = [(f, t) for f, t in shown if f.segment.start < s.end and f.segment.end > s.start]
        if not mine:
            rows.append({"text": s.text, "source": s.source, "missed": True})
            continue
        lines = 1 + sum(not f.segment.joins for f, _ in mine[1:])
        rows.append({"text": s.text, "source": s.source, "missed": False,
                     "latency_s": mine[-1][1] - spoken_at(s.end, arrivals, sr),
                     "pieces": len(mine), "lines": lines, "hyp": " ".join(f.text for f, _ in mine if f.text),
                     "segments": [(f.segment.start, f.segment.end) for f, _ in mine]})
    return {"sentences": rows, "merged_finals": merged}


def summarise(rule: str, endpoint, scored: dict, session, sentences, wave, rec, load: tuple[float, float]) -> dict:
    from edge_ssl.asr.evaluate.metrics import corpus_error_rates
    from edge_ssl.asr.stream.session import transcribe_wave

    rows = [r for r in scored["sentences"] if not r["missed"]]
    lat = np.array([r["latency_s"] for r in rows]) * 1000
    pad = round(0.1 * 16000)
    whole = {s.text: transcribe_wave(rec, wave[max(s.start - pad, 0):s.end + pad]) for s in sentences}
    by_kind = {k: [r["latency_s"] * 1000 for r in rows if r["source"].startswith(k)] for k in ("real", "tts")}
    return {
        "rule": rule, "endpoint": vars(endpoint), "load_avg_1min": {"before": load[0], "after": load[1]},
        "sentences": len(sentences), "missed": len(sentences) - len(rows), "merged_finals": scored["merged_finals"],
        "latency_ms": {"p50": float(np.percentile(lat, 50)), "p90": float(np.percentile(lat, 90)),
                       "max": float(lat.max())},
        "latency_ms_by_source": {k: {"p50": float(np.percentile(v, 50)), "p90": float(np.percentile(v, 90))}
                                 for k, v in by_kind.items() if v},
        "split_rate": float(np.mean([r["pieces"] > 1 for r in rows])),
        "line_split_rate": float(np.mean([r["lines"] > 1 for r in rows])),
        "cer_vs_reference": corpus_error_rates([r["text"] for r in rows], [r["hyp"] for r in rows]).cer,
        "cer_vs_whole_sentence_decode": corpus_error_rates([whole[r["text"]] for r in rows],
                                                           [r["hyp"] for r in rows]).cer,
        "finals_ready_at_endpoint": session.early_hits, "session_latency": session.stats.summary(),
        "per_sentence": scored["sentences"],
    }


def print_summary(r: dict) -> None:
    lat, ld = r["latency_ms"], r["load_avg_1min"]
    print(f"\n{r['rule']}: commit_silence {r['endpoint']['commit_silence']} (mean VAD prob <= "
          f"{r['endpoint']['commit_max_prob']}), trailing_silence "
          f"{r['endpoint']['trailing_silence']}, speech_pad {r['endpoint']['speech_pad']}; load avg (1 min) "
          f"{ld['before']:.2f} -> {ld['after']:.2f}")
    print(f"  end of speech -> words on screen: p50 {lat['p50']:.0f} ms, p90 {lat['p90']:.0f} ms, "
          f"max {lat['max']:.0f} ms"
          + "".join(f"; {k} p50/p90 {v['p50']:.0f}/{v['p90']:.0f}" for k, v in r["latency_ms_by_source"].items()))
    print(f"  split rate {r['split_rate']:.3f} (line-split rate {r['line_split_rate']:.3f}) over "
          f"{r['sentences'] - r['missed']} sentences; missed {r['missed']}, merged finals {r['merged_finals']}")
    print(f"  CER vs reference {r['cer_vs_reference']:.3f}, vs whole-sentence decode "
          f"{r['cer_vs_whole_sentence_decode']:.3f}; finals decoded before their endpoint "
          f"{r['finals_ready_at_endpoint']}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--set", dest="which", choices=("test", "dev"), default="test")
    ap.add_argument("--model", type=Path, help="CTC artifact (.safetensors/.onnx/.pte); default: the bundled .pte")
    ap.add_argument("--rules", default=",".join(RULES), help="comma-separated: before, live")
    ap.add_argument("--commit-silence", type=float, help="live rule: s of pause that commits text (default: tuned)")
    ap.add_argument("--commit-max-prob", type=float, help="live rule: max mean VAD prob of a committing pause")
    ap.add_argument("--speech-pad", type=float, help="live rule: s of audio kept after speech (default: tuned)")
    ap.add_argument("--trailing-silence", type=float, default=0.5, help="live rule: s of silence that ends a line")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--vad", default="silero")
    ap.add_argument("--mode", default="redecode")
    ap.add_argument("--dev-manifest", type=Path, default=Path("data/real/dev_sky.jsonl"))
    ap.add_argument("--json", type=Path, help="default: bench/results/latency_<set>.json")
    args = ap.parse_args()
    rules = args.rules.split(",")
    if unknown := set(rules) - set(RULES):
        ap.error(f"unknown rule(s) {sorted(unknown)}; choose from {RULES}")

    import soundfile as sf

    from edge_ssl.asr.stream.session import open_recognizer
    from edge_ssl.assets import model_or_bundled

    from replay_set import build_replay_set

    model = model_or_bundled(args.model)
    tmp = Path(tempfile.mkdtemp(prefix="bench_latency_"))
    wave, sentences = build_replay_set(args.which, tmp, args.dev_manifest)
    wav = tmp / "replay.wav"
    sf.write(str(wav), wave, 16000, subtype="FLOAT")
    print(f"{args.which} replay set: {len(sentences)} sentences ({sum(s.source.startswith('real') for s in sentences)} "
          f"real), {len(wave) / 16000:.1f} s at real time; model {model}; {args.threads} thread(s); {args.mode}")
    rec = open_recognizer(model, args.threads)
    results = []
    for rule in rules:
        endpoint = endpoint_for(rule, args)
        load0 = os.getloadavg()[0]
        shown, arrivals, session = replay(model, wav, endpoint, args)
        scored = score(sentences, shown, arrivals, 16000)
        results.append(summarise(rule, endpoint, scored, session, sentences, wave, rec, (load0, os.getloadavg()[0])))
        print_summary(results[-1])
    out = args.json or Path(__file__).resolve().parent / "results" / f"latency_{args.which}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"args": {k: str(v) for k, v in vars(args).items()}, "model": str(model),
                               "cpu_count": os.cpu_count(), "results": results}, indent=1))
    print(f"\nreport: {out}")


if __name__ == "__main__":
    main()
