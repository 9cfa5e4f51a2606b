"""Write the bundled model's MODEL_CARD.md from what recipes/bundled/run.sh measured.

    python recipes/bundled/card.py OUT MODEL REAL DEST   -> DEST/MODEL_CARD.md (+ OUT/card.json)

Every number in the card is read from OUT (the evaluate comparisons and per-utterance results, bench.json),
the training run (metrics.jsonl, train_labeled.jsonl) and the real corpus (REAL/corpus.json): none is typed
in by hand.
"""
from __future__ import annotations

import dataclasses
import json
import sys
from collections import Counter, defaultdict
from pathlib import Path

from edge_ssl.data.manifest import read_manifest, total_hours
from edge_ssl.atomic import atomic_write_text
from edge_ssl.models.store import load_model
from edge_ssl.recipes.distill import encoder_cost


def label(name: str) -> str:
    """A comparison row's name (file stem, folder/file, or engine) -> what the card calls it."""
    if name.endswith(".pte"):
        return "**edge_en v2 int8 .pte** (ExecuTorch/XNNPACK), bundled"
    if name.endswith(".onnx"):
        return "edge_en v2 int8 .onnx (ONNX Runtime), bundled"
    return {"edge_en_v2_fp32": "edge_en v2 fp32 eager (PyTorch)",
            "edge_en_v1": "edge_en v1 int8 .pte (TTS only; the previous bundled model)",
            "model_int8": "edge_en v2 int8 .pte",
            "pocketsphinx": "pocketsphinx 5 en-us (HMM-GMM + 3-gram LM)",
            "whisper-tiny.en": "Whisper tiny.en (39M, CTranslate2 int8, beam 5)",
            "whisper-base": "Whisper base (74M, CTranslate2 int8, beam 5)"}.get(name, name)


def per_speaker(results: Path, speakers: dict[str, str]) -> dict[str, float]:
    errs, chars = defaultdict(int), defaultdict(int)
    for line in results.read_text().splitlines():
        r = json.loads(line)
        s = speakers.get(r["id"], "?")
        errs[s] += r.get("char_errors", 0)
        chars[s] += r.get("chars", 0)
    return {s: errs[s] / max(1, chars[s]) for s in sorted(chars)}


def scores(out: Path, folder: str, speakers: dict[str, str]) -> list[dict]:
    path = out / folder / "comparison.json"
    if not path.is_file():
        print(f"missing {path}", file=sys.stderr)
        return []
    rows = []
    for name, s in json.loads(path.read_text()).items():
        results = out / folder / name.replace("/", "_") / "results.jsonl"
        rows.append({"system": name, "label": label(name), "cer": s["cer"], "wer": s["wer"], "rtf": s.get("rtf"),
                     "clips": s["num_utterances"], "speakers": per_speaker(results, speakers)})
    return rows


def main(out: Path, model: Path, real: Path, dest: Path) -> None:
    real_clips = read_manifest(real / "heldout_real_test.script.jsonl", lengths=False)
    speakers = {u.id: (u.speaker or "?").split(":", 1)[-1] for u in real_clips}
    tables = {k: scores(out, f"eval_{k}", speakers) for k in ("real", "real_lm", "tts", "tts_lm")}
    bench = json.loads((out / "bench" / "bench.json").read_text())
    net, _ = load_model(model)
    cost = encoder_cost(net.encoder)
    params = sum(p.numel() for p in net.parameters()) / 1e6
    run = model.parent
    metrics = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines() if x.strip()]
    train = read_manifest(run / "train_labeled.jsonl", lengths=False)
    by_source = Counter()
    for u in train:
        by_source[str(u.extra.get("source", "tts"))] += u.num_samples / 16000 / 3600
    corpus = json.loads((real / "corpus.json").read_text())
    enc = dataclasses.asdict(net.encoder.cfg)
    sizes = {p.name: p.stat().st_size / 1e6 for p in (out / "model_int8.pte", out / "model_int8.onnx")}
    card = render(tables, bench, cost, params, metrics, by_source, len(train), total_hours(train), corpus, enc, sizes)
    atomic_write_text(dest / "MODEL_CARD.md", card)
    atomic_write_text(out / "card.json", json.dumps({"tables": tables, "sizes_mb": sizes, "cost": cost,
                                                      "params_m": params}, indent=2) + "\n")
    print(card)


def table(rows: list[dict], with_rtf: bool = True) -> list[str]:
    head = ["| system | CER | WER |" + (" RTF |" if with_rtf else ""), "|---|---:|---:|" + ("---:|" if with_rtf else "")]
    return head + [f"| {r['label']} | {r['cer']:.1%} | {r['wer']:.1%} |" + (f" {r['rtf']:.3f} |" if with_rtf else "")
                   for r in rows]


def render(tables, bench, cost, params, metrics, by_source, n_train, train_hours, corpus, enc, sizes) -> str:
    real, tts = tables["real"], tables["tts"]
    n_real = real[0]["clips"] if real else 0
    n_tts = tts[0]["clips"] if tts else 0
    held = corpus.get("heldout_speakers", [])
    who = sorted({s for r in real for s in r["speakers"]})
    last = metrics[-1]
    one_thread = {r["name"]: r for r in bench["rows"] if r.get("p50_ms") is not None}
    lines = [
        "# edge_en v2: the bundled English CTC model",
        "",
        "`edge-ssl transcribe FILE.wav` and `edge-ssl listen` use `model_int8.pte` when no `--model` is given;",
        "`model_int8.onnx` is the same network for ONNX Runtime. Both are made by this toolkit's own recipe and",
        "rebuilt, with this card, by `bash recipes/bundled/run.sh`.",
        "",
        "## Real voices never heard in training",
        "",
        f"{n_real} clips ({len(who)} game characters held out whole: {', '.join(who)}; the references are",
        "the game's own script where both Whisper models agree with it, `heldout_real_test.script.jsonl`).",
        "Every system was scored by `edge-ssl evaluate` (same text normalisation) in one run; greedy CTC",
        "decoding for the edge models. RTF is decode time over audio time on the build machine (2 cores, shared).",
        "",
        *table(real),
        "",
        "With the word LM (3-gram from the training transcripts and WordNet, no test sentence; CTC beam search,",
        "`evaluate --lm`):",
        "",
        *table(tables["real_lm"], with_rtf=False),
        "",
        "CER per held-out character:",
        "",
        "| system | " + " | ".join(who) + " |",
        "|---|" + "---:|" * len(who),
        *[f"| {r['label']} | " + " | ".join(f"{r['speakers'].get(s, float('nan')):.1%}" for s in who) + " |"
          for r in real],
        "",
        "## Synthetic voices never heard in training",
        "",
        f"{n_tts} clips of the 4 held-out TTS voices (every 3rd utterance of `data/synth_v2/test.jsonl`):",
        "",
        *table(tts),
        "",
        "With the word LM:",
        "",
        *table(tables["tts_lm"], with_rtf=False),
        "",
        f"## Size and latency (`edge-ssl bench --threads {bench['threads']}`, {bench['audio_seconds']:.0f} s of audio)",
        "",
        f"Shipped: `model_int8.pte` {sizes['model_int8.pte']:.2f} MB + `model_int8.onnx` "
        f"{sizes['model_int8.onnx']:.2f} MB.",
        "",
        "| row | size (MB) | p50 ms | RTF | peak memory (MB) |",
        "|---|---:|---:|---:|---:|",
        *[f"| {n} | {r['size_mb']:.2f} | {r['p50_ms']:.1f} | {r['rtf']:.4f} | {r['peak_mem_mb']:.0f} |"
          for n, r in one_thread.items()],
        "",
        "The shipped `.pte` is the `pte-int8-static-all` row (convs int8 too). Timings were taken with other jobs",
        "on the machine; compare rows, not machines.",
        "",
        "## Architecture",
        "",
        f"- {params:.2f}M parameters; {cost['gflops_per_s']:.2f} GFLOP per second of audio (forward).",
        "- Whisper tiny.en's encoder, imported (`edge-ssl import whisper:tiny.en --pad-to 0`): Whisper's 80-bin",
        "  log-mel computed inside the graph, two convs (the second with stride 2) to 50 Hz, fixed sinusoidal",
        f"  positions, {enc['num_layers']} pre-LN layers x {enc['embed_dim']} wide, {enc['num_heads']} heads, "
        f"FFN {enc['ffn_dim']}. It runs on the clip",
        "  alone (no padding to 30 s), so cost follows the audio's length; clips up to 30 s per call.",
        "- Head: linear over 29 tokens (blank, space, apostrophe, a-z); greedy CTC decoding by default.",
        "- int8: `.pte` is PT2E static int8 for XNNPACK (linears and convs; the log-mel, norms and softmax stay",
        "  fp32; the position table is stored fp16, which is exact for Whisper's fp16-rounded table), `.onnx`",
        "  is ONNX Runtime dynamic int8 on MatMuls.",
        "",
        "## Training data and recipe",
        "",
        f"- {n_train} labeled utterances, {train_hours:.2f} h: "
        + ", ".join(f"{src} {h:.2f} h" for src, h in by_source.most_common()) + ".",
        "- Real speech: the voice clips of *Flight of the Amazon Queen* (Debian package",
        "  `flight-of-the-amazon-queen`, extracted by `edge-ssl prepare real`), every character but the held-out",
        f"  ones ({', '.join(held)}); labeled with the game's own script where Whisper tiny.en's",
        "  transcript agrees with it (CER <= 0.2; `recipes/real_en/label.sh`). 11 kHz, low-bitrate MP3 audio.",
        "- Synthetic speech: `edge-ssl prepare synth data/synth_v2 -n 4500 --augment-prob 0.6 --seed 1` (19",
        "  training voices of flite, espeak-ng, festival and piper; 4 held out).",
        "- Half of all training utterances are low-passed at a random 4-5.5 kHz (`data.lowpass_prob`), so the",
        "  full-band TTS meets the band-limited game audio.",
        f"- Fine-tuning (`OMP_NUM_THREADS=1 edge-ssl finetune -c ctc/edge_en_v2`): the encoder frozen for the first",
        "  800 updates while the head learns, then everything at a tri-stage lr peaking at 1e-4, no dropout,",
        f"  light time/channel masking; {last['step']} updates of 20 s of audio, {last['elapsed_s'] / 60:.0f} min on one",
        f"  CPU thread; final training loss per token {last['loss_per_token']:.3f}.",
        "",
        "## Known limits",
        "",
        "- The real training speech is one game's cast (about 30 characters, fewer actors) recorded at 11 kHz;",
        "  the held-out test speakers are characters of the same game. Expect worse on other microphones, accents,",
        "  far-field audio and conversational speech; no other real English speech was available offline.",
        "- The held-out references are the script filtered by Whisper's agreement, which favours clear clips.",
        "- Character CTC: rare words are often misspelt; the LM helps where its vocabulary covers them.",
        "- English only, 16 kHz, up to 30 s per call (`transcribe` and `listen` cut longer audio with VAD).",
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    if len(sys.argv) != 5:
        sys.exit("usage: card.py OUT MODEL REAL DEST")
    main(*(Path(a) for a in sys.argv[1:]))
