"""Live-transcription latency: end of speech -> final text, re-decoding vs the chunked encoder.

A TTS dialogue with known silences is replayed through ``FileSource`` (real time by default) into the
same ``StreamingSession`` + rich display ``listen`` uses (the display writes to an in-memory terminal).
For each mode it reports p50/p90 of the total latency and its breakdown (hangover = trailing silence the
endpoint rule waits for + window granularity, queue, decode, display), CPU seconds per audio second,
skipped partials, and accuracy: CER of the finals against offline transcription of the same segments
(``redecode`` is exact by construction) and, with a trained model, CER/WER against the spoken text.

    .venv/bin/python bench/latency.py                       # random-weight DistilHuBERT-shaped student
    .venv/bin/python bench/latency.py --model student_int8.onnx --threads 1 --speed 1
    .venv/bin/python bench/latency.py --trailing-silence 0.2 --json out.json
    .venv/bin/python bench/latency.py --join 4 --utterances 6     # ~10 s utterances: where chunked pays off

Timings on a shared 2-core machine are noisy: compare the modes' ratios within one run.
"""
from __future__ import annotations

import argparse
import io
import json
import tempfile
import time
from pathlib import Path

import numpy as np

from edge_ssl.deploy.samples import random_ctc_model  # random weights, the real model's compute

SENTENCES = [
    "turn on the lights in the kitchen", "what is the weather like tomorrow", "set a timer for ten minutes",
    "call my sister on her mobile phone", "play some quiet music in the living room", "how far is the station",
    "remind me to buy milk and bread", "open the garage door please", "what time does the shop close today",
    "read me the latest news headlines", "add eggs to the shopping list", "switch off the television now",
    "how many days until the weekend", "send a message saying I will be late", "lower the volume a little",
    "book a table for two at seven",
]


def run_mode(model: Path, wav: Path, mode: str, args) -> dict:
    from rich.console import Console

    from edge_ssl.asr.endpoint import EndpointConfig
    from edge_ssl.asr.stream import Final, StreamConfig, open_session, run_stream
    from edge_ssl.asr.vad import VadConfig
    from edge_ssl.audio.sources import FileSource
    from edge_ssl.cli.apps import LiveDisplay

    session = open_session(model, VadConfig(kind=args.vad),
                           EndpointConfig(trailing_silence=args.trailing_silence,
                                          speech_pad=min(0.1, args.trailing_silence)),
                           StreamConfig(mode=mode), threads=args.threads)
    display = LiveDisplay(session.sr, Console(file=io.StringIO(), force_terminal=True, width=120))
    finals = []

    def show(ev):
        display(ev)
        if isinstance(ev, Final):
            finals.append(ev)

    source = FileSource(wav, session.sr, speed=args.speed)
    cpu0, t0 = time.process_time(), time.monotonic()
    with source, display:
        run_stream(source, session, show)
    cpu, wall = time.process_time() - cpu0, time.monotonic() - t0
    from edge_ssl.asr.stream import recognizer_logits
    # the model's own cost on a typical segment, in CPU time of this thread: contention-free decode time
    seg = max(((f.segment.end - f.segment.start), f.segment) for f in finals)[1] if finals else None
    solo = None
    if seg is not None:
        wave = np.zeros(seg.end - seg.start, np.float32) + 0.01 * np.random.RandomState(0).randn(seg.end - seg.start)
        recognizer_logits(session.rec, wave.astype(np.float32))
        c0 = time.thread_time()
        for _ in range(3):
            recognizer_logits(session.rec, wave.astype(np.float32))
        solo = (time.thread_time() - c0) / 3
    return {"mode": mode, "latency": session.stats.summary(), "utterances": len(finals),
            "cpu_per_audio_s": cpu / source.duration, "wall_s": wall, "audio_s": source.duration,
            "partials_skipped": session.partials_skipped, "dropped_frames": source.dropped,
            "finals_ready_at_endpoint": session.early_hits,
            "segments": [(f.segment.start, f.segment.end) for f in finals], "texts": [f.text for f in finals],
            "longest_segment_s": (seg.end - seg.start) / session.sr if seg else None,
            "longest_segment_decode_cpu_s": solo}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", type=Path, help="CTC artifact (.safetensors/.onnx/.pte); default: random student")
    ap.add_argument("--utterances", type=int, default=12)
    ap.add_argument("--join", type=int, default=1, help="sentences spoken as one utterance (long utterances)")
    ap.add_argument("--voice", default="espeak-ng:en-us")
    ap.add_argument("--speed", type=float, default=1.0, help="replay pace (1 = real time)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--vad", default="auto")
    ap.add_argument("--trailing-silence", type=float, default=0.5)
    ap.add_argument("--modes", default="redecode,chunked")
    ap.add_argument("--json", type=Path, help="write the full report here")
    args = ap.parse_args()

    import jiwer
    import soundfile as sf

    from edge_ssl.asr.segment import build_dialogue
    from edge_ssl.asr.stream import open_recognizer, transcribe_wave

    tmp = Path(tempfile.mkdtemp(prefix="bench_latency_"))
    model = args.model or random_ctc_model(tmp / "distilhubert_random_ctc.safetensors", "distilhubert")
    texts = [", ".join(SENTENCES[(i * args.join + j) % len(SENTENCES)] for j in range(args.join))
             for i in range(args.utterances)]
    gaps = [0.6 + 0.1 * (i % 7) for i in range(len(texts) + 1)]  # 0.6-1.2 s of silence between utterances
    wave, _ = build_dialogue(texts, gaps, voice=args.voice)
    wav = tmp / "dialogue.wav"
    sf.write(str(wav), wave, 16000, subtype="FLOAT")
    print(f"model {model}; {len(texts)} utterances, {len(wave) / 16000:.1f} s of audio at {args.speed:g}x; "
          f"threads {args.threads}; trailing silence {args.trailing_silence} s")

    rec = open_recognizer(model, args.threads)
    results = [run_mode(model, wav, m, args) for m in args.modes.split(",")]
    for r in results:
        offline = [transcribe_wave(rec, wave[a:b]) for a, b in r["segments"]]
        r["cer_vs_offline"] = jiwer.cer(offline, r["texts"]) if any(offline) else 0.0
        if len(r["texts"]) == len(texts):
            r["cer_vs_spoken"] = jiwer.cer(texts, [t or "-" for t in r["texts"]])
            r["wer_vs_spoken"] = jiwer.wer(texts, [t or "-" for t in r["texts"]])
        lat = r["latency"]
        print(f"\n{r['mode']}: {r['utterances']} finals, CPU {r['cpu_per_audio_s']:.3f} s per audio s, "
              f"partials skipped {r['partials_skipped']}, dropped frames {r['dropped_frames']}, "
              f"finals decoded before their endpoint {r['finals_ready_at_endpoint']}, "
              f"CER vs offline {r['cer_vs_offline']:.3f}" +
              (f", CER/WER vs spoken {r['cer_vs_spoken']:.3f}/{r['wer_vs_spoken']:.3f}" if "cer_vs_spoken" in r else ""))
        for k in ("total", "hangover", "queue", "decode", "display", "decode_cpu"):
            print(f"  {k:9s} p50 {lat[k]['p50'] * 1000:7.1f} ms   p90 {lat[k]['p90'] * 1000:7.1f} ms")
        if r["longest_segment_decode_cpu_s"] is not None:
            print(f"  decoding the longest segment ({r['longest_segment_s']:.2f} s) costs "
                  f"{r['longest_segment_decode_cpu_s'] * 1000:.0f} ms of CPU (contention-free decode time)")
    if len(results) == 2:
        a, b = results
        print(f"\n{b['mode']}/{a['mode']}: decode p90 x{b['latency']['decode']['p90'] / a['latency']['decode']['p90']:.2f}, "
              f"total p90 x{b['latency']['total']['p90'] / a['latency']['total']['p90']:.2f}, "
              f"CPU x{b['cpu_per_audio_s'] / a['cpu_per_audio_s']:.2f}")
    if args.json:
        args.json.write_text(json.dumps({"args": {k: str(v) for k, v in vars(args).items()}, "results": results},
                                        indent=1))


if __name__ == "__main__":
    main()
