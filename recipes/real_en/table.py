"""The default model's ablation on the held-out real speakers (docs/real_speech.md, section 6): table and plot.

    .venv/bin/python recipes/real_en/table.py
        -> recipes/real_en/reports/ablation.{json,md,png}

Every row is measured by recipes/bundled/run.sh or recipes/real_en/arms.sh, whose outputs live under runs/
(never committed). A row whose outputs are on this machine is read from them; a row whose runs are not here
keeps the figures ablation.json recorded when they were (with the command that made them), so the committed
report always holds every arm, and each figure says where it came from.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

from edge_ssl.atomic import atomic_path, atomic_write_text

REPORTS = Path("recipes/real_en/reports")
BUNDLED, ARMS = "runs/bundled_v2", "runs/real_v2"
RUN_SH, ARMS_SH = "bash recipes/bundled/run.sh", "recipes/real_en/arms.sh"
COLUMNS = ("real_cer", "real_wer", "real_wer_lm", "tts_cer", "tts_wer_lm")
# evaluation -> the (CER, WER) columns it fills
PART_COLUMNS = {"real": ("real_cer", "real_wer"), "real_lm": (None, "real_wer_lm"), "tts": ("tts_cer", None),
                "tts_lm": (None, "tts_wer_lm")}


def arm_row(key: str, label: str, isolates: str, run: str, cmd: str, before: tuple[str, ...] = ()) -> dict:
    """An arms.sh arm: greedy real from its CTC run's end-of-run score, the rest from arms.sh's evaluations.
    ``before``: the runs its CTC run starts from (pretraining, distillation), counted in its training."""
    return {"key": key, "label": label, "isolates": isolates, "command": cmd, "model": f"{ARMS}/{run}/model.safetensors",
            "stages": [f"{ARMS}/{st}" for st in (*before, run)],
            "sources": {"real": f"{ARMS}/{run}/valid/summary.json", "real_lm": f"{ARMS}/eval_real_lm_{key}/summary.json",
                        "tts": f"{ARMS}/eval_tts_{key}/summary.json", "tts_lm": f"{ARMS}/eval_tts_lm_{key}/summary.json"}}


def bundled_row(key: str, label: str, isolates: str, name: str, lm: bool = True) -> dict:
    """A system of run.sh's evaluation (comparison.json entry ``name``)."""
    src = {"real": f"{BUNDLED}/eval_real/comparison.json#{name}", "tts": f"{BUNDLED}/eval_tts/comparison.json#{name}"}
    if lm:
        src.update(real_lm=f"{BUNDLED}/eval_real_lm/comparison.json#{name}",
                   tts_lm=f"{BUNDLED}/eval_tts_lm/comparison.json#{name}")
    return {"key": key, "label": label, "isolates": isolates, "command": RUN_SH, "model": "", "stages": [],
            "sources": src}


ROWS = [
    bundled_row("v1", "v1 `edge_en` (TTS only), int8 .pte", "the starting point", "edge_en_v1"),
    arm_row("scratch", "same architecture from scratch, real + TTS", "what real speech alone buys", "edge_scratch",
            f"ARMS=scratch {ARMS_SH}"),
    arm_row("distilled", "distilled from Whisper base (2 x 512), then CTC", "what a real teacher buys, distilled",
            "distilled_ctc", f"ARMS=distilled {ARMS_SH}", before=("distill_whisper_base",)),
    arm_row("lowlabel_scratch", "10% labels: from scratch", "the low-label baseline", "lowlabel/scratch",
            f"ARMS=lowlabel {ARMS_SH}"),
    arm_row("lowlabel_hubert", "10% labels: HuBERT on all unlabeled audio, then CTC", "what SSL buys at 10% labels",
            "lowlabel/teacher_ft", f"ARMS=lowlabel {ARMS_SH}", before=("lowlabel/teacher",)),
    arm_row("lowlabel_whisper", "10% labels: Whisper tiny.en encoder, then CTC (v2's recipe)",
            "what a teacher pretrained at scale buys at 10% labels", "lowlabel/whisper_ft", f"ARMS=lowlabel_whisper {ARMS_SH}"),
    bundled_row("v2_fp32", "v2: Whisper tiny.en encoder + CTC, fp32", "what a real teacher buys, its encoder kept",
                "edge_en_v2_fp32", lm=False),
    bundled_row("v2", "v2, int8 .pte (shipped)", "the shipped model", "bundled_v2/model_int8.pte"),
    bundled_row("pocketsphinx", "pocketsphinx 5 en-us", "a classic offline peer", "pocketsphinx", lm=False),
    bundled_row("whisper_tiny_en", "Whisper tiny.en (beam 5)", "the edge-sized Whisper", "whisper-tiny.en", lm=False),
]


def read_score(spec: str) -> dict | None:
    """``path[#name]`` -> that evaluation's summary (a comparison.json entry when ``#name``), None if absent."""
    path, _, name = spec.partition("#")
    if not Path(path).is_file():
        return None
    data = json.loads(Path(path).read_text())
    return data.get(name) if name else data


def measure(row: dict) -> dict:
    """The row's figures from the runs on this machine (only those whose outputs exist)."""
    got = {}
    for part, spec in row["sources"].items():
        s = read_score(spec)
        for col, metric in zip(PART_COLUMNS[part], ("cer", "wer")):
            if s is not None and col:
                got[col] = round(s[metric], 4)
    if row["model"] and Path(row["model"]).is_file():
        from edge_ssl.models.store import load_model
        from edge_ssl.recipes.distill import encoder_cost

        model, _ = load_model(row["model"])
        got.update(encoder_cost(model.encoder))
    last = [Path(st) / "metrics.jsonl" for st in row["stages"]]
    if got.get("params_m") and all(m.is_file() for m in last):  # a finished arm; every update sees 20 s of audio
        ends = [json.loads(m.read_text().splitlines()[-1]) for m in last]
        got["training"] = (" + ".join(str(e["step"]) for e in ends)
                           + f" updates, {sum(e['elapsed_s'] for e in ends) / 60:.0f} min")
    return got


def percent(v) -> str:
    return "-" if v is None else f"{v:.1%}"


def main() -> None:
    report = REPORTS / "ablation.json"
    recorded = {r["key"]: r for r in json.loads(report.read_text())["rows"]} if report.is_file() else {}
    rows = []
    for spec in ROWS:
        row = {k: spec[k] for k in ("key", "label", "isolates", "command")}
        row.update({k: v for k, v in recorded.get(spec["key"], {}).items() if k not in row})
        fresh = measure(spec)
        row.update(fresh)
        if fresh:
            row["measured_here"] = sorted(fresh)
        rows.append(row)
    lines = ["| arm | isolates | training | encoder params | GFLOP / audio s | real CER | real WER | real WER, LM | TTS CER | "
             "TTS WER, LM |", "|---|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        cost = (f"{r['params_m']:.2f}M", f"{r['gflops_per_s']:.2f}") if "params_m" in r else ("-", "-")
        lines.append(f"| {r['label']} | {r['isolates']} | {r.get('training', '-')} | {cost[0]} | {cost[1]} | "
                     + " | ".join(percent(r.get(c)) for c in COLUMNS) + " |")
    lines.append("\nCommands: " + "; ".join(sorted({f"`{r['command']}`" for r in rows})))
    atomic_write_text(REPORTS / "ablation.md", "\n".join(lines) + "\n")
    atomic_write_text(report, json.dumps({"rows": rows}, indent=2) + "\n")
    print("\n".join(lines))
    plot(rows, REPORTS / "ablation.png")


def plot(rows: list[dict], out: Path) -> None:
    """Grouped bars: real CER, real WER greedy, real WER with the LM, per arm."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [r for r in rows if r.get("real_cer") is not None]
    fig, ax = plt.subplots(figsize=(9, 3.8))
    width = 0.27
    for j, (col, name, color) in enumerate([("real_cer", "CER", "#37c"), ("real_wer", "WER", "#999"),
                                            ("real_wer_lm", "WER with LM", "#3a7")]):
        xs = [i + (j - 1) * width for i in range(len(rows))]
        ys = [100 * (r.get(col) or 0) for r in rows]
        ax.bar(xs, ys, width, label=name, color=color)
        for x, y, r in zip(xs, ys, rows):
            if r.get(col) is not None:
                ax.text(x, min(y, 104), f"{y:.0f}", ha="center", va="bottom", fontsize=7)
    ax.set_xticks(range(len(rows)), [r["key"].replace("_", "\n") for r in rows], fontsize=8)
    ax.set_ylim(0, 112)
    ax.set_ylabel("% on held-out real speakers")
    ax.set_title("edge_en ablation: 450 clips of 6 characters never trained on")
    ax.legend(fontsize=8, ncol=3, loc="upper right")
    fig.tight_layout()
    with atomic_path(out) as tmp:
        fig.savefig(tmp, format="png", dpi=100)


if __name__ == "__main__":
    sys.exit(main())
