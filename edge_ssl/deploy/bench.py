"""``edge-ssl bench``: every backend x precision on the same audio, each in its own process.

Rows: HF transformers ``HubertForCTC`` eager fp32 (baseline, same shape), edge-ssl eager fp32 and torchao
int8, ExecuTorch .pte fp32 / static int8, ONNX Runtime fp32 / dynamic int8. Per row: artifact size, peak
RSS over the process's post-import baseline, p50/p90 latency, real-time factor, and achieved GFLOP/s
(model FLOPs counted once with ``FlopCounterMode``) against this CPU's 2048^2 fp32 matmul peak, measured
in the same run. Performance goals are ratios in this table, never pass/fail tests.

A vision model file (``vit``/``mae``) gets the image-encoder rows (``IMAGE_ROWS``) through the same
export, workers and table: latency is per image (one normalised (C, S, S) input), no RTF.
"""
from __future__ import annotations

import json
import logging
import subprocess
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from edge_ssl.errors import EdgeSSLError
from edge_ssl.io import atomic_path, atomic_write_text

log = logging.getLogger(__name__)

# name -> (kind, artifact suffix or None for the model file itself, export quant, eager quant,
#          keep the conv front-end fp32)
ROWS = {
    "hf-eager-fp32": ("hf", None, None, "none", True),
    "eager-fp32": ("runner", None, None, "none", True),
    "eager-int8-dynamic": ("runner", None, None, "int8-dynamic", True),
    "pte-fp32": ("runner", ".pte", "none", "none", True),
    "pte-int8-static": ("runner", ".pte", "static", "none", True),
    "pte-int8-static-all": ("runner", ".pte", "static", "none", False),  # front-end convs int8 too
    "onnx-fp32": ("runner", ".onnx", "none", "none", True),
    "onnx-int8-dynamic": ("runner", ".onnx", "dynamic", "none", True),
}
IMAGE_ROWS = ("eager-fp32", "pte-fp32", "onnx-fp32", "onnx-int8-dynamic")  # static int8 calibrates on audio


@dataclass
class BenchConfig:
    seconds: float = 10.0                 # audio length
    threads: int = 2                      # threads per runtime
    reps: int = 10                        # timed runs per row
    warmup: int = 2                       # untimed runs first
    calibration: str | None = None        # manifest for static int8 (default: espeak-ng sentences)
    only: list[str] = field(default_factory=list)  # subset of ROWS (default: all)
    hf_baseline: bool = True              # include the HF transformers row


@dataclass
class Row:
    name: str
    size_mb: float
    peak_mem_mb: float        # peak RSS minus the RSS after imports, before loading the model
    p50_ms: float
    p90_ms: float
    rtf: float | None         # p50 / audio duration (None for images)
    gflops: float             # model FLOPs / p50
    peak_frac: float          # gflops / matmul peak


def _worker(args: list[str]) -> dict:
    cmd = [sys.executable, "-m", "edge_ssl.deploy.bench_worker", *args]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise EdgeSSLError(f"benchmark worker failed ({' '.join(args[:2])}):\n{proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def model_flops(model_path: str, num_samples: int) -> float:
    """FLOPs of one forward: ``num_samples`` of audio, or one image for an image encoder."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from edge_ssl.runtime.eager import load_model_and_meta

    model, meta = load_model_and_meta(model_path, min_samples=400, max_samples=num_samples)
    fn, x = (model.features, torch.zeros(1, *meta.image_shape)) if meta.is_image else (model, torch.zeros(1, num_samples))
    counter = FlopCounterMode(display=False)
    with counter, torch.inference_mode():
        fn(x)
    return float(counter.get_total_flops())


def is_image_model(path: Path) -> bool:
    from edge_ssl.models.store import read_model_meta
    from edge_ssl.runtime.eager import VISION_KINDS

    return read_model_meta(path).get("kind") in VISION_KINDS


def teacher_fp32_mb(vocab: int = 29) -> float:
    """Size of the base (12 x 768) CTC teacher in fp32: the reference for the student's size goal."""
    from edge_ssl.models import speech_encoder as se
    from edge_ssl.models.ctc import CTCModel

    return sum(p.numel() for p in CTCModel(se.base(), vocab).parameters()) * 4 / 1e6


def bench_audio(manifest: str, seconds: float, out: Path) -> Path:
    """Real speech from ``manifest`` concatenated (and cut) to exactly ``seconds``."""
    from edge_ssl.audio.io import load_audio, save_wav
    from edge_ssl.data.manifest import read_manifest

    n = round(seconds * 16000)
    parts, total = [], 0
    utts = read_manifest(manifest)
    while total < n:
        for u in utts:
            parts.append(load_audio(u.audio_path))
            total += len(parts[-1])
    save_wav(out, np.concatenate(parts)[:n])
    return out


def prepare_model(model: str, work: Path) -> Path:
    """A model file path, or a size name -> a random-weight CTC model of that shape."""
    if Path(model).is_file():
        return Path(model)
    from edge_ssl.deploy.samples import random_ctc_model
    from edge_ssl.models.speech_encoder import SIZES

    if model not in SIZES:
        raise EdgeSSLError(f"{model}: neither a model file nor a size ({', '.join(SIZES)})")
    path = work / f"{model}_ctc_random.safetensors"
    if not path.exists():
        random_ctc_model(path, model)
    return path


def build_artifacts(model_path: Path, rows: list[str], work: Path, calibration: str) -> dict[str, Path]:
    """Export (once; reused while newer than the model) the artifact of each artifact row."""
    from edge_ssl.deploy.pipeline import ExportConfig, export_model

    paths = {}
    for name in rows:
        kind, suffix, quant, _, keep_frontend = ROWS[name]
        if suffix is None:
            paths[name] = model_path
            continue
        out = work / f"{model_path.stem}.{name.split('-', 1)[1]}{suffix}"
        if not out.exists() or out.stat().st_mtime < model_path.stat().st_mtime:
            r = export_model(model_path, out, ExportConfig(quant=quant, calibration=calibration, threads=2,
                                                           keep_frontend_fp32=keep_frontend))
            log.info("%s: %s", out.name, r.partitions or "exported")
            (work / f"{out.name}.verify.txt").write_text("\n".join(rep.format() for rep in r.reports) + "\n"
                                                        + (r.partitions or "") + "\n")
        paths[name] = out
    return paths


def run_bench(model: str, out: str | Path, cfg: BenchConfig = BenchConfig(),
              artifacts: dict[str, Path] | None = None) -> str:
    """Benchmark ``model`` and its artifacts; ``artifacts`` (row name -> path) reuses ones already exported
    (e.g. by the demo) instead of exporting them here."""
    out = Path(out)
    work = out / "artifacts"
    work.mkdir(parents=True, exist_ok=True)
    model_path = prepare_model(model, work)
    image = is_image_model(model_path)
    allowed = IMAGE_ROWS if image else tuple(ROWS)
    rows = [r for r in (cfg.only or allowed) if cfg.hf_baseline or r != "hf-eager-fp32"]
    unknown = [r for r in rows if r not in allowed]
    if unknown:
        raise EdgeSSLError(f"unknown bench rows {unknown} for {model_path.name}; choose from {', '.join(allowed)}")
    calibration, audio_args = None, []  # an image encoder's workers time a seeded random image
    if not image:
        calibration = cfg.calibration
        if calibration is None:
            from edge_ssl.deploy.samples import espeak_manifest

            calibration = str(work / "speech" / "manifest.jsonl")
            if not Path(calibration).exists():
                espeak_manifest(work / "speech")
        audio_args = ["--audio", str(bench_audio(calibration, cfg.seconds, work / "bench_audio.wav"))]
    given = {k: Path(v) for k, v in (artifacts or {}).items()}
    paths = {**build_artifacts(model_path, [r for r in rows if r not in given], work, calibration), **given}

    peak = _worker(["peak", "--threads", str(cfg.threads)])["gflops"]
    flops = model_flops(str(model_path), round(cfg.seconds * 16000))
    results = []
    for name in rows:
        kind, _, _, quant, _ = ROWS[name]
        log.info("bench %s", name)
        r = _worker([kind, str(paths[name]), *audio_args, "--threads", str(cfg.threads), "--reps",
                     str(cfg.reps), "--warmup", str(cfg.warmup), "--quant", quant])
        ms = np.asarray(r["latencies_ms"])
        p50 = float(np.percentile(ms, 50))
        size = paths[name].stat().st_size / 1e6 if kind == "runner" else _hf_size_mb(model_path)
        gfl = flops / (p50 / 1000) / 1e9
        results.append(Row(name, size, r["peak_rss_mb"] - r["rss_base_mb"], p50, float(np.percentile(ms, 90)),
                           None if image else p50 / 1000 / cfg.seconds, gfl, gfl / peak))
    teacher = None if image else teacher_fp32_mb()
    shape = "x".join(map(str, open_meta(model_path).image_shape)) if image else ""
    summary = {"model": str(model_path), "task": "image-encoder" if image else "speech",
               "input": f"one {shape} image" if image else f"{cfg.seconds:.0f} s audio",
               "audio_seconds": None if image else cfg.seconds, "threads": cfg.threads, "reps": cfg.reps,
               "matmul_peak_gflops": peak, "model_gflop": flops / 1e9, "teacher_fp32_mb": teacher,
               "rows": [asdict(r) for r in results], "goals": goals(results, teacher)}
    table = format_table(summary)
    atomic_write_text(out / "bench.json", json.dumps(summary, indent=1))
    atomic_write_text(out / "bench.md", table + "\n")
    plot(results, out / "bench.png", summary)
    return table


def open_meta(model_path: Path):
    from edge_ssl.runtime.eager import load_model_and_meta

    return load_model_and_meta(model_path, min_samples=400, max_samples=16000)[1]


def _hf_size_mb(model_path: Path) -> float:
    return model_path.stat().st_size / 1e6  # same shape and dtype: the fp32 weights are the same size


def goals(rows: list[Row], teacher_mb: float) -> dict:
    by = {r.name: r for r in rows}
    g = {}
    if "pte-fp32" in by and "eager-fp32" in by:
        g["pte_fp32_speed_vs_eager_fp32"] = by["eager-fp32"].p50_ms / by["pte-fp32"].p50_ms  # >= 1
    if "pte-int8-static" in by:
        q = by["pte-int8-static"]
        if "hf-eager-fp32" in by:
            g["pte_int8_speedup_vs_hf_fp32"] = by["hf-eager-fp32"].p50_ms / q.p50_ms  # >= 2
        if "onnx-int8-dynamic" in by:
            g["pte_int8_speed_vs_onnx_int8"] = by["onnx-int8-dynamic"].p50_ms / q.p50_ms  # >= 1
        g["pte_int8_fraction_of_matmul_peak"] = q.peak_frac  # >= 0.4
        g["pte_int8_size_vs_teacher_fp32"] = q.size_mb / teacher_mb  # <= 1/12
    if "pte-int8-static-all" in by:
        q = by["pte-int8-static-all"]
        if "hf-eager-fp32" in by:
            g["pte_int8_all_speedup_vs_hf_fp32"] = by["hf-eager-fp32"].p50_ms / q.p50_ms
        if "onnx-int8-dynamic" in by:
            g["pte_int8_all_speed_vs_onnx_int8"] = by["onnx-int8-dynamic"].p50_ms / q.p50_ms
        g["pte_int8_all_fraction_of_matmul_peak"] = q.peak_frac
        g["pte_int8_all_size_vs_teacher_fp32"] = q.size_mb / teacher_mb
    return g


def _ms(v: float) -> str:
    return f"{v:.0f}" if v >= 100 else f"{v:.2f}"  # per-image latencies are a few ms


def format_table(s: dict) -> str:
    lines = [f"model {Path(s['model']).name}: {s['model_gflop']:.3g} GFLOP for {s['input']}, "
             f"{s['threads']} threads, {s['reps']} runs; matmul peak {s['matmul_peak_gflops']:.0f} GFLOP/s",
             "", "| backend | size MB | peak mem MB | p50 ms | p90 ms | RTF | GFLOP/s | % peak |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in s["rows"]:
        lines.append(f"| {r['name']} | {r['size_mb']:.1f} | {r['peak_mem_mb']:.0f} | {_ms(r['p50_ms'])} | "
                     f"{_ms(r['p90_ms'])} | {'-' if r['rtf'] is None else format(r['rtf'], '.4f')} | {r['gflops']:.0f} | {100 * r['peak_frac']:.0f}% |")
    lines.append("")
    lines += [f"- {k}: {v:.3f}" for k, v in s["goals"].items()]
    return "\n".join(lines)


def plot(rows: list[Row], path: Path, s: dict) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 0.5 * len(rows) + 1.5))
    names = [r.name for r in rows][::-1]
    p50 = [r.p50_ms for r in rows][::-1]
    p90 = [r.p90_ms for r in rows][::-1]
    ax.barh(names, p90, color="#cbd5e8", label="p90")
    ax.barh(names, p50, color="#3b6fb6", label="p50")
    for i, r in enumerate(rows[::-1]):
        rtf = "" if r.rtf is None else f"RTF {r.rtf:.3f}, "
        ax.text(r.p90_ms, i, f"  {rtf}{100 * r.peak_frac:.0f}% peak", va="center", fontsize=8)
    ax.set_xlabel(f"latency (ms) for {s['input']}, {s['threads']} threads")
    ax.set_title(Path(s["model"]).name)
    ax.set_xlim(0, max(p90) * 1.6)
    ax.legend(loc="lower right")
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=120)
    plt.close(fig)
