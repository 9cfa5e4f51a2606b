"""Write the bundled model's MODEL_CARD.md from what recipes/bundled/run.sh measured.

    python recipes/bundled/card.py OUT MODEL CLIPS DEST   -> DEST/MODEL_CARD.md (+ OUT/card.json)

Every number in the card is read from OUT (evaluate summaries and per-utterance results, bench.json), the
training run (metrics.jsonl) and the corpus (corpus.json): none is typed in by hand.
"""
from __future__ import annotations

import dataclasses
import json
import sys
from collections import defaultdict
from pathlib import Path

from edge_ssl.data.manifest import read_manifest
from edge_ssl.io import atomic_write_text
from edge_ssl.models.store import load_model
from edge_ssl.recipes.distill import encoder_cost

SYSTEMS = [  # (folder under OUT/eval, label)
    ("model_int8_pte", "edge_en int8 .pte (ExecuTorch/XNNPACK), **bundled**"),
    ("model_int8_onnx", "edge_en int8 .onnx (ONNX Runtime), **bundled**"),
    ("model_safetensors", "edge_en fp32 eager (PyTorch)"),
    ("pocketsphinx", "pocketsphinx 5 en-us (CMU, HMM-GMM + 3-gram LM)"),
    ("whisper-tiny.en", "Whisper tiny.en (39M, CTranslate2 int8, beam 5)"),
]


def per_voice(results: Path, speakers: dict[str, str]) -> dict[str, float]:
    errs, chars = defaultdict(int), defaultdict(int)
    for line in results.read_text().splitlines():
        r = json.loads(line)
        v = speakers.get(r["id"], "?")
        errs[v] += r.get("char_errors", 0)
        chars[v] += r.get("chars", 0)
    return {v: errs[v] / max(1, chars[v]) for v in sorted(chars)}


def main(out: Path, model: Path, clips: Path, dest: Path) -> None:
    utts = read_manifest(clips)
    speakers = {u.id: u.speaker or "?" for u in utts}
    rows = []
    for folder, label in SYSTEMS:
        s_path = out / "eval" / folder / "summary.json"
        if not s_path.is_file():
            print(f"missing {s_path}", file=sys.stderr)
            continue
        s = json.loads(s_path.read_text())
        rows.append({"system": folder, "label": label, "cer": s["cer"], "wer": s["wer"], "rtf": s.get("rtf"),
                     "voices": per_voice(out / "eval" / folder / "results.jsonl", speakers)})
    bench = json.loads((out / "bench" / "bench.json").read_text())
    net, _ = load_model(model)
    cost = encoder_cost(net.encoder)
    params = sum(p.numel() for p in net.parameters()) / 1e6
    metrics = [json.loads(x) for x in (model.parent / "metrics.jsonl").read_text().splitlines() if x.strip()]
    corpus = json.loads((clips.parent / "corpus.json").read_text())  # the clips sit beside their corpus
    enc = dataclasses.asdict(net.encoder.cfg)
    sizes = {p.name: p.stat().st_size / 1e6 for p in (out / "model_int8.pte", out / "model_int8.onnx")}
    card = render(rows, bench, cost, params, metrics, corpus, enc, sizes, len(utts), clips)
    atomic_write_text(dest / "MODEL_CARD.md", card)
    atomic_write_text(out / "card.json", json.dumps({"rows": rows, "sizes_mb": sizes, "cost": cost,
                                                      "params_m": params}, indent=2) + "\n")
    print(card)


def render(rows, bench, cost, params, metrics, corpus, enc, sizes, n_clips, clips) -> str:
    p = corpus["params"]
    hours = corpus["hours"]
    voices = sorted({v for r in rows for v in r["voices"]})
    last = metrics[-1]
    lines = [
        "# edge_en: the bundled English CTC model",
        "",
        "`edge-ssl transcribe FILE.wav` and `edge-ssl listen` use `model_int8.pte` when no `--model` is given;",
        "`model_int8.onnx` is the same network for ONNX Runtime. Both are made by this toolkit's own recipes",
        "and rebuilt, with this card, by `bash recipes/bundled/run.sh`.",
        "",
        "## Results on held-out voices",
        "",
        f"{n_clips} clips (`{clips}`: every 4th utterance of the test split), spoken by voices that no training",
        "utterance uses. Every system was scored by `edge-ssl evaluate` (same text normalisation, jiwer) in the",
        "same run. RTF is decode time over audio time on the build machine (2 cores, shared during the run).",
        "",
        "| system | CER | WER | RTF |",
        "|---|---|---|---|",
    ]
    lines += [f"| {r['label']} | {r['cer']:.1%} | {r['wer']:.1%} | {r['rtf']:.3f} |" for r in rows]
    lines += ["", "CER per held-out voice:", "",
              "| system | " + " | ".join(f"`{v}`" for v in voices) + " |",
              "|---|" + "---|" * len(voices)]
    lines += [f"| {r['system']} | " + " | ".join(f"{r['voices'].get(v, float('nan')):.1%}" for v in voices) + " |"
              for r in rows]
    lines += [
        "",
        "## Size and latency (`edge-ssl bench`, same machine, random 10 s input)",
        "",
        f"Shipped: `model_int8.pte` {sizes['model_int8.pte']:.2f} MB + `model_int8.onnx` "
        f"{sizes['model_int8.onnx']:.2f} MB = {sum(sizes.values()):.2f} MB.",
        "",
        f"| row | size (MB) | p50 ms / {bench['audio_seconds']:.0f} s audio | RTF | peak memory (MB) |",
        "|---|---|---|---|---|",
    ]
    lines += [f"| {r['name']} | {r['size_mb']:.2f} | {r['p50_ms']:.1f} | {r['rtf']:.4f} | {r['peak_mem_mb']:.0f} |"
              for r in bench["rows"] if r.get("p50_ms") is not None]
    lines += [
        "",
        f"Threads: {bench['threads']}. Timings were taken with other jobs on the machine; compare rows, not machines.",
        "",
        "## Architecture",
        "",
        f"- {params:.2f}M parameters; {cost['gflops_per_s']:.2f} GFLOP per second of audio (forward).",
        f"- Front-end: 80-bin log-mel (25 ms Hann window, 10 ms hop) computed inside the graph as a fixed DFT",
        f"  convolution, then convs {enc.get('conv_layers')} to 50 Hz (20 ms frames).",
        f"- Transformer: {enc.get('num_layers')} pre-LN layers x {enc.get('embed_dim')} wide, {enc.get('num_heads')} heads,",
        f"  FFN {enc.get('ffn_dim')}, convolutional relative position (kernel {enc.get('pos_conv_kernel')}).",
        "- Head: linear over 29 tokens (blank, space, apostrophe, a-z); greedy CTC decoding. No language model.",
        "- int8: `.pte` is PT2E static int8 for XNNPACK (linears and convs; the log-mel front-end, norms and",
        "  softmax stay fp32), `.onnx` is ONNX Runtime dynamic int8 on MatMuls (the mel filterbank stays fp32).",
        "",
        "## Training data and recipe",
        "",
        f"- Corpus: `edge-ssl prepare synth data/synth_big -n {p['config']['num_utterances']} --augment-prob "
        f"{p['config']['augment_prob']} --seed {p['config']['seed']}`: {hours} h of offline TTS.",
        f"- Training voices ({len(p['train_voices'])}): {', '.join(p['train_voices'])}.",
        f"- Held-out voices ({len(p['test_voices'])}, never trained on): {', '.join(p['test_voices'])}.",
        f"- Augmentation on {p['config']['augment_prob']:.0%} of utterances: noise at {p['config']['snr_db']} dB SNR,",
        "  reverberation, telephone band; every utterance gets a random speaking rate "
        f"{p['config']['rate_range']} and pitch (+-{p['config']['pitch_cents']:.0f} cents); text from WordNet examples",
        "  (no sentence in two splits).",
        f"- Recipe: `OMP_NUM_THREADS=1 edge-ssl finetune -c ctc/edge_en` (CTC from random initialisation,",
        f"  tri-stage lr peak 2e-3, SpecAugment-style time/channel masking): {last['step']} updates of 40 s of",
        f"  audio, {last['elapsed_s'] / 60:.0f} min on 2 CPU cores; final training loss per token "
        f"{last['loss_per_token']:.3f}.",
        "- Retrain everything and regenerate this card: `bash recipes/bundled/run.sh`.",
        "",
        "## Known limits",
        "",
        "- Trained on synthetic speech only: no real human recording was available offline. Held-out TTS voices",
        "  are the closest proxy here; expect worse results on real speech, accents and far-field audio.",
        "- No whole TTS engine is held out (each engine has both training and held-out voices).",
        "- Character CTC with greedy decoding and no language model: misspellings of rare words are common;",
        "  the peers use a language model (pocketsphinx) or an autoregressive decoder (Whisper).",
        f"- Underfit: the training loss per token was still {last['loss_per_token']:.2f} when the budget ended, so most",
        "  words carry at least one character error (high WER at a CER that beats pocketsphinx). More updates are",
        "  the first lever; the recipe's step budget was what one session of a shared 2-core CPU allowed.",
        "- English only, 16 kHz, utterances up to 30 s per call (`transcribe` and `listen` cut longer audio with VAD).",
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    if len(sys.argv) != 5:
        sys.exit("usage: card.py OUT MODEL CLIPS DEST")
    main(*(Path(a) for a in sys.argv[1:]))
