"""Collect the low-label runs into a table (markdown + JSON) and a CER plot.

    python recipes/lowlabel/table.py runs/lowlabel_edge
        -> runs/lowlabel_edge/{table.md,table.json,cer.png}

Each arm's CER/WER comes from <stage>/valid/summary.json of its CTC stage; its updates and training wall time
add up every stage it depends on (metrics.jsonl), so the compute of the arms can be compared. The distillation
report (student/report.json) gives the per-layer cosine similarity on held-out voices.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

from edge_ssl.atomic import atomic_path, atomic_write_text
from edge_ssl.models.store import load_model
from edge_ssl.recipes.distill import encoder_cost

# arm (its CTC stage) -> label, the stages it is built from (in order; the last one is the CTC stage)
ARMS = [("scratch", "(2) same architecture from scratch, 10% labels", ["scratch"]),
        ("scratch_short", "(2b) from scratch, only the fine-tuning's updates", ["scratch_short"]),
        ("teacher_ft", "(1) HuBERT-pretrained teacher, fine-tuned on 10%", ["teacher", "teacher_ft"]),
        ("student_ft", "(3) distilled student, fine-tuned on 10%", ["teacher", "student", "student_ft"])]


def last_metrics(stage: Path) -> dict:
    """The last line of a stage's metrics.jsonl (step, elapsed_s, ...)."""
    path = stage / "metrics.jsonl"
    if not path.is_file():
        raise SystemExit(f"missing {path}: stage not run")
    return json.loads(path.read_text().splitlines()[-1])


def main(root: Path) -> None:
    rows = []
    for arm, label, stages in ARMS:
        summary = root / arm / "valid" / "summary.json"
        if not summary.is_file():
            print(f"missing {summary}: arm not run", file=sys.stderr)
            continue
        s = json.loads(summary.read_text())
        model, _ = load_model(root / arm / "model.safetensors")
        last = {st: last_metrics(root / st) for st in stages}
        rows.append({"arm": arm, "label": label, "cer": s["cer"], "wer": s["wer"], "utterances": s["num_utterances"],
                     "updates": {st: m["step"] for st, m in last.items()},
                     "train_min": round(sum(m["elapsed_s"] for m in last.values()) / 60, 1),
                     **encoder_cost(model.encoder)})
    by = {r["arm"]: r for r in rows}
    derived = {}
    if "scratch" in by and "teacher_ft" in by:
        derived["pretraining_cer_reduction_rel"] = round(1 - by["teacher_ft"]["cer"] / by["scratch"]["cer"], 4)
    if "scratch_short" in by and "teacher_ft" in by:  # the same number of CTC updates, pretraining not counted
        derived["pretraining_cer_reduction_rel_same_ctc_updates"] = round(
            1 - by["teacher_ft"]["cer"] / by["scratch_short"]["cer"], 4)
    if "teacher_ft" in by and "student_ft" in by:
        derived["student_over_teacher_cer"] = round(by["student_ft"]["cer"] / by["teacher_ft"]["cer"], 4)
    lines = ["| arm | CER | WER | updates (per stage) | training (min) | params (M) | GFLOP/s audio |",
             "|---|---|---|---|---|---|---|"]
    lines += [f"| {r['label']} | {r['cer']:.2%} | {r['wer']:.2%} | "
              f"{' + '.join(f'{n} {st}' for st, n in r['updates'].items())} | {r['train_min']} | "
              f"{r['params_m']} | {r['gflops_per_s']} |" for r in rows]
    lines += [f"\n{k}: {v}" for k, v in derived.items()]
    report = root / "student" / "report.json"
    if report.is_file():
        sim = json.loads(report.read_text()).get("similarity", {})
        derived["student_cosine"] = {k: v["cosine"] for k, v in sim.items()}
        lines.append("\nstudent head / teacher layer cosine (held-out voices): "
                     + ", ".join(f"{k} {v['cosine']:.3f}" for k, v in sim.items()))
    atomic_write_text(root / "table.md", "\n".join(lines) + "\n")
    atomic_write_text(root / "table.json", json.dumps({"rows": rows, **derived}, indent=2) + "\n")
    print("\n".join(lines))

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6, 3.2))
    ax.bar([r["arm"] for r in rows], [100 * r["cer"] for r in rows], color=[{"scratch": "#999", "scratch_short": "#bbb", "teacher_ft": "#37c", "student_ft": "#3a7"}[r["arm"]] for r in rows])
    ax.set_ylabel("CER on held-out voices (%)")
    ax.set_title("10% labels: scratch vs pretrained vs distilled")
    for i, r in enumerate(rows):
        ax.text(i, 100 * r["cer"], f"{r['cer']:.1%}", ha="center", va="bottom")
    fig.tight_layout()
    with atomic_path(root / "cer.png") as tmp:
        fig.savefig(tmp, format="png", dpi=100)


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "runs/lowlabel_edge"))
