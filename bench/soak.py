"""Soak test for live transcription (a benchmark, not a test): an hour of speech, faster than real time.

A TTS dialogue is repeated into a long file, which ``FileSource`` replays at ``--speed`` x real time, as a
microphone would (it never waits for the consumer: if the session falls behind, blocks are dropped and
counted). Every ``--every`` seconds of audio it records the process RSS, the source queue depth, dropped
frames and the latency of the finals in that stretch. Goal: flat memory, zero drops, no latency drift.

    .venv/bin/python bench/soak.py                                # 1 h, tiny random model, 4x
    .venv/bin/python bench/soak.py --model student.onnx --speed 4 --hours 1 --json soak.json

Drift is the slope of (queue + decode) latency against stream time, and the p90 of the first tenth of
utterances against the last tenth.
"""
from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from edge_ssl.deploy.samples import random_ctc_model  # random weights, the real model's compute


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


SENTENCES = [
    "turn on the lights in the kitchen", "what is the weather like tomorrow", "set a timer for ten minutes",
    "call my sister on her mobile phone", "play some quiet music in the living room", "how far is the station",
    "remind me to buy milk and bread", "open the garage door please", "what time does the shop close today",
    "read me the latest news headlines", "add eggs to the shopping list", "switch off the television now",
    "how many days until the weekend", "send a message saying I will be late", "lower the volume a little",
    "book a table for two at seven",
]


def long_recording(folder: Path, hours: float, voice: str) -> Path:
    """A 16-sentence dialogue, repeated to ``hours``; written block by block (PCM 16)."""
    import soundfile as sf

    from edge_ssl.data.tts import build_dialogue
    wave, _ = build_dialogue(SENTENCES, [0.6 + 0.1 * (i % 7) for i in range(len(SENTENCES) + 1)], voice=voice)
    path = folder / "soak.wav"
    with sf.SoundFile(str(path), "w", 16000, 1, subtype="PCM_16") as f:
        for _ in range(int(np.ceil(hours * 3600 * 16000 / len(wave)))):
            f.write(wave)
    return path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", type=Path, help="CTC artifact; default: a tiny random-weight model")
    ap.add_argument("--hours", type=float, default=1.0)
    ap.add_argument("--speed", type=float, default=4.0)
    ap.add_argument("--mode", default="redecode")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--voice", default="espeak-ng:en-us")
    ap.add_argument("--every", type=float, default=300.0, help="report every this many seconds of audio")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()

    from edge_ssl.asr.stream.session import Final, StreamConfig, open_session, run_stream
    from edge_ssl.audio.sources import FileSource

    tmp = Path(tempfile.mkdtemp(prefix="bench_soak_"))
    model = args.model or random_ctc_model(tmp / "tiny_random_ctc.safetensors", "tiny")
    wav = long_recording(tmp, args.hours, args.voice)
    session = open_session(model, stream=StreamConfig(mode=args.mode), threads=args.threads)
    source = FileSource(wav, session.sr, speed=args.speed)
    print(f"model {model}; {source.duration / 3600:.2f} h of audio at {args.speed:g}x, {args.mode}")

    rows, finals, next_report = [], [], args.every
    t0 = time.monotonic()

    def on_event(ev):
        nonlocal next_report
        if isinstance(ev, Final):
            finals.append((ev.segment.end / session.sr, ev.latency.queue + ev.latency.decode, ev.latency.total))
        now = session.total / session.sr
        if now >= next_report:
            recent = [x[1] for x in finals if x[0] > now - args.every]
            rows.append({"audio_s": round(now), "wall_s": round(time.monotonic() - t0, 1), "rss_mb": round(rss_mb(), 1),
                         "queue_blocks": source.queue.qsize(), "dropped_frames": source.dropped,
                         "finals": len(finals), "partials_skipped": session.partials_skipped,
                         "proc_p90_ms": round(float(np.percentile(recent, 90)) * 1000, 1) if recent else None,
                         "buffer_samples": session.buf.size})
            print(rows[-1], flush=True)
            next_report += args.every

    with source:
        run_stream(source, session, on_event)
    t, proc, total = map(np.array, zip(*finals))
    tenth = max(len(finals) // 10, 1)
    warm = [r["rss_mb"] for r in rows[1:]] or [r["rss_mb"] for r in rows]
    report = {
        "audio_h": source.duration / 3600, "wall_s": time.monotonic() - t0, "speed": args.speed,
        "utterances": len(finals), "dropped_frames": source.dropped, "overflows": source.overflows,
        "rss_mb_after_first_report": warm[0], "rss_mb_max": max(warm), "rss_growth_mb": max(warm) - warm[0],
        "proc_latency_slope_ms_per_h": float(np.polyfit(t / 3600, proc * 1000, 1)[0]),
        "proc_p90_first_tenth_ms": float(np.percentile(proc[:tenth], 90) * 1000),
        "proc_p90_last_tenth_ms": float(np.percentile(proc[-tenth:], 90) * 1000),
        "total_p90_ms": float(np.percentile(total, 90) * 1000), "partials_skipped": session.partials_skipped,
        "rows": rows,
    }
    print({k: (round(v, 2) if isinstance(v, float) else v) for k, v in report.items() if k != "rows"})
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
