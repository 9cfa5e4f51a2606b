"""``edge-ssl bench``: every backend x precision on the same audio, each in its own long-lived process,
timed round-robin (``bench_pool``) together with a 2048^2 fp32 matmul probe of this CPU's peak.

Rows: HF transformers ``HubertForCTC`` eager fp32 (baseline, same shape), edge-ssl eager fp32 and torchao
int8, ExecuTorch .pte fp32 / static int8, ONNX Runtime fp32 / dynamic int8. Per row: artifact size, peak
RSS over the process's post-import baseline, p50/p90 latency and IQR/median over the rounds, real-time
factor, achieved GFLOP/s (model FLOPs counted once with ``FlopCounterMode``) and its share of the peak
measured in the same rounds. Goal ratios are medians of per-round ratios (``bench_stats``); a row or ratio
too spread out to support a number says "too noisy". Performance goals are ratios in this table, never
pass/fail tests.

A vision model file (``vit``/``mae``) gets the image-encoder rows (``IMAGE_ROWS``) through the same
export, workers and table: latency is per image (one normalised (C, S, S) input), no RTF.
"""
from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from edge_ssl.deploy.bench_pool import Interleaved, run_interleaved
from edge_ssl.deploy.bench_stats import MAX_SPREAD, Spread, ratio, summarize
from edge_ssl.deploy.bench_worker import PEAK_N
from edge_ssl.errors import EdgeSSLError
from edge_ssl.atomic import atomic_path, atomic_write_text

log = logging.getLogger(__name__)

# name -> (kind, artifact suffix or None for the model file itself, export quant, eager quant,
#          keep the first conv block fp32)
ROWS = {
    "hf-eager-fp32": ("hf", None, None, "none", True),
    "eager-fp32": ("runner", None, None, "none", True),
    "eager-int8-dynamic": ("runner", None, None, "int8-dynamic", True),
    "pte-fp32": ("runner", ".pte", "none", "none", True),
    "pte-int8-static": ("runner", ".pte", "static", "none", True),
    "pte-int8-static-all": ("runner", ".pte", "static", "none", False),  # the first conv block int8 too
    "onnx-fp32": ("runner", ".onnx", "none", "none", True),
    "onnx-int8-dynamic": ("runner", ".onnx", "dynamic", "none", True),
}
IMAGE_ROWS = ("eager-fp32", "pte-fp32", "onnx-fp32", "onnx-int8-dynamic")  # static int8 calibrates on audio
PEAK = "matmul-peak"  # the 2048^2 fp32 matmul probe: a participant of every round, first

# goal -> (reference row, candidate row): the median over rounds of reference ms / candidate ms
SPEED_GOALS = {
    "pte_fp32_speed_vs_eager_fp32": ("eager-fp32", "pte-fp32"),                       # >= 1
    "pte_int8_speedup_vs_hf_fp32": ("hf-eager-fp32", "pte-int8-static"),              # >= 2
    "pte_int8_speed_vs_onnx_int8": ("onnx-int8-dynamic", "pte-int8-static"),          # >= 1
    "pte_int8_all_speedup_vs_hf_fp32": ("hf-eager-fp32", "pte-int8-static-all"),
    "pte_int8_all_speed_vs_onnx_int8": ("onnx-int8-dynamic", "pte-int8-static-all"),
}
PEAK_GOALS = {"pte_int8_fraction_of_matmul_peak": "pte-int8-static",                 # >= 0.4
              "pte_int8_all_fraction_of_matmul_peak": "pte-int8-static-all"}
SIZE_GOALS = {"pte_int8_size_vs_teacher_fp32": "pte-int8-static",                    # <= 1/12
              "pte_int8_all_size_vs_teacher_fp32": "pte-int8-static-all"}


@dataclass
class BenchConfig:
    seconds: float = 10.0                 # audio length
    threads: int = 2                      # threads per runtime
    reps: int = 10                        # interleaved rounds: one timed run of every row per round
    warmup: int = 2                       # untimed runs per row first
    calibration: str | None = None        # manifest for static int8 (default: espeak-ng sentences)
    only: list[str] = field(default_factory=list)  # subset of ROWS (default: all)
    hf_baseline: bool = True              # include the HF transformers row
    max_spread: float = MAX_SPREAD        # IQR / median above which a row or ratio is "too noisy"


@dataclass
class Row:
    name: str
    size_mb: float
    peak_mem_mb: float        # peak RSS minus the RSS after imports, before loading the model
    p50_ms: float
    p90_ms: float
    rtf: float | None         # p50 / audio duration (None for images)
    gflops: float             # model FLOPs / p50
    peak_frac: float          # median over rounds of (model FLOPs / time) / that round's matmul peak
    spread: float = 0.0       # (p75 - p25) / p50 of the row's timings
    too_noisy: bool = False   # spread > max_spread: the table prints no latency for this row
    samples_ms: list[float] = field(default_factory=list)  # one timing per round, in round order


def model_flops(model_path: str, num_samples: int) -> float:
    """FLOPs of one forward: ``num_samples`` of audio, or one image for an image encoder."""
    import torch

    from edge_ssl.models.flops import forward_flops
    from edge_ssl.runtime.eager import load_model_and_meta

    model, meta = load_model_and_meta(model_path, min_samples=400, max_samples=num_samples)
    fn, x = (model.features, torch.zeros(1, *meta.image_shape)) if meta.is_image else (model, torch.zeros(1, num_samples))
    return float(forward_flops(fn, x))


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
    if cfg.max_spread < 0:
        raise EdgeSSLError(f"max_spread must be >= 0 (an IQR/median fraction), got {cfg.max_spread}")
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

    rounds = _interleave(rows, paths, audio_args, cfg, work)
    sizes = {n: paths[n].stat().st_size / 1e6 if ROWS[n][0] == "runner" else _hf_size_mb(model_path) for n in rows}
    flops = model_flops(str(model_path), round(cfg.seconds * 16000))
    teacher = None if image else teacher_fp32_mb()
    results, timing = summarize_rounds(rounds, sizes, flops, teacher, cfg, None if image else cfg.seconds)
    shape = "x".join(map(str, open_meta(model_path).image_shape)) if image else ""
    summary = {"model": str(model_path), "task": "image-encoder" if image else "speech",
               "input": f"one {shape} image" if image else f"{cfg.seconds:g} s audio",
               "audio_seconds": None if image else cfg.seconds, "teacher_fp32_mb": teacher, **timing}
    table = format_table(summary)
    atomic_write_text(out / "bench.json", json.dumps(summary, indent=1))
    atomic_write_text(out / "bench.md", table + "\n")
    plot(results, out / "bench.png", summary)
    return table


def summarize_rounds(rounds: Interleaved, sizes_mb: dict[str, float], flops: float, teacher_mb: float | None,
                     cfg: BenchConfig, audio_seconds: float | None) -> tuple[list[Row], dict]:
    """Rows and the timing part of bench.json from the interleaved timings (``rounds.samples_ms`` holds the
    probe under ``PEAK`` and each row; ``audio_seconds`` None: per-image rows, no RTF)."""
    probe_scale = flops / (2 * PEAK_N**3)  # model FLOPs in units of one probe call
    peak_ms = rounds.samples_ms[PEAK]
    results = []
    for name, ms in rounds.samples_ms.items():
        if name == PEAK:
            continue
        t, mem = summarize(ms, cfg.max_spread), rounds.memory[name]
        frac = ratio(peak_ms, ms, cfg.max_spread, probe_scale).median
        results.append(Row(name, sizes_mb[name], mem["peak_rss_mb"] - mem["rss_base_mb"], t.median,
                           float(np.percentile(ms, 90)), None if audio_seconds is None else t.median / 1000 / audio_seconds,
                           flops / (t.median / 1000) / 1e9, frac, t.spread, t.too_noisy, list(ms)))
    peak = summarize([2 * PEAK_N**3 / (ms / 1000) / 1e9 for ms in peak_ms], cfg.max_spread)
    g = goals(rounds.samples_ms, probe_scale, sizes_mb, teacher_mb, cfg.max_spread)
    return results, {
        "threads": cfg.threads, "reps": len(peak_ms), "order": list(rounds.samples_ms), "max_spread": cfg.max_spread,
        "load_avg": rounds.load_avg, "matmul_peak_gflops": peak.median, "matmul_peak": peak.as_dict(),
        "model_gflop": flops / 1e9, "rows": [asdict(r) for r in results],
        "goals": {k: None if isinstance(v, Spread) and v.too_noisy else getattr(v, "median", v) for k, v in g.items()},
        "goal_ratios": {k: v.as_dict() for k, v in g.items() if isinstance(v, Spread)},
        "timeline": rounds.timeline}


def _interleave(rows: list[str], paths: dict[str, Path], audio_args: list[str], cfg: BenchConfig, work: Path):
    """The matmul probe and every row, each in its own long-lived worker, timed round-robin."""
    common = ["--threads", str(cfg.threads)]
    specs = {PEAK: ["peak", *common]}
    for name in rows:
        kind, _, _, quant, _ = ROWS[name]
        specs[name] = [kind, str(paths[name]), *audio_args, *common, "--quant", quant]
    log.info("bench: %d rounds of %s", cfg.reps, " ".join(specs))
    return run_interleaved(specs, cfg.reps, cfg.warmup, work)


def open_meta(model_path: Path):
    from edge_ssl.runtime.eager import load_model_and_meta

    return load_model_and_meta(model_path, min_samples=400, max_samples=16000)[1]


def _hf_size_mb(model_path: Path) -> float:
    return model_path.stat().st_size / 1e6  # same shape and dtype: the fp32 weights are the same size


def goals(samples_ms: dict[str, list[float]], probe_scale: float, sizes_mb: dict[str, float],
          teacher_mb: float | None, max_spread: float = MAX_SPREAD) -> dict[str, Spread | float]:
    """The goal ratios among the rows present: speed and share of the matmul peak as medians of per-round
    ratios (``Spread``; ``probe_scale`` = model FLOPs / FLOPs of one probe call), sizes as plain numbers."""
    g = {}
    for goal, (ref, cand) in SPEED_GOALS.items():
        if ref in samples_ms and cand in samples_ms:
            g[goal] = ratio(samples_ms[ref], samples_ms[cand], max_spread)
    for goal, row in PEAK_GOALS.items():
        if row in samples_ms and PEAK in samples_ms:
            g[goal] = ratio(samples_ms[PEAK], samples_ms[row], max_spread, probe_scale)
    for goal, row in SIZE_GOALS.items():
        if row in sizes_mb and teacher_mb:
            g[goal] = sizes_mb[row] / teacher_mb
    return g


def _ms(v: float) -> str:
    return f"{v:.0f}" if v >= 100 else f"{v:.2f}"  # per-image latencies are a few ms


def _pct(v: float) -> str:
    return f"{100 * v:.0f}%"


def _goal_line(name: str, value: float | None, st: dict | None, max_spread: float) -> str:
    if st is None:  # a size ratio: no timing noise
        return f"- {name}: {value:.3f}"
    if st["too_noisy"]:
        return f"- {name}: too noisy (IQR/median {_pct(st['spread'])} > {_pct(max_spread)} over {st['n']} rounds)"
    return f"- {name}: {st['median']:.3f} (IQR {st['q1']:.3f}-{st['q3']:.3f} over {st['n']} rounds)"


def format_table(s: dict) -> str:
    """bench.md: a header stamped with the load and the measured peak, one line per row, the goal ratios.
    A row or ratio whose IQR/median exceeds ``max_spread`` says "too noisy" instead of a number."""
    pk, load = s["matmul_peak"], s["load_avg"]
    peak = "too noisy" if pk["too_noisy"] else f"{pk['median']:.0f} GFLOP/s"
    lines = [f"model {Path(s['model']).name}: {s['model_gflop']:.3g} GFLOP for {s['input']}, {s['threads']} threads, "
             f"{s['reps']} interleaved rounds of {', '.join(s['order'])}",
             f"matmul peak {peak} (IQR/median {_pct(pk['spread'])}); load average (1 min) {load['before'][0]:.2f} "
             f"before, {load['after'][0]:.2f} after; too noisy above IQR/median {_pct(s['max_spread'])}",
             "", "| backend | size MB | peak mem MB | p50 ms | p90 ms | IQR/median | RTF | GFLOP/s | % peak |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in s["rows"]:
        timed = ("too noisy", "-", "-", "-", "-") if r["too_noisy"] else (
            _ms(r["p50_ms"]), _ms(r["p90_ms"]), "-" if r["rtf"] is None else format(r["rtf"], ".4f"),
            f"{r['gflops']:.0f}", _pct(r["peak_frac"]))
        lines.append(f"| {r['name']} | {r['size_mb']:.1f} | {r['peak_mem_mb']:.0f} | {timed[0]} | {timed[1]} | "
                     f"{_pct(r['spread'])} | {' | '.join(timed[2:])} |")
    lines.append("")
    lines += [_goal_line(k, v, s["goal_ratios"].get(k), s["max_spread"]) for k, v in s["goals"].items()]
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
        note = "too noisy" if r.too_noisy else f"{rtf}{100 * r.peak_frac:.0f}% peak"
        ax.text(r.p90_ms, i, f"  {note}", va="center", fontsize=8)
    ax.set_xlabel(f"latency (ms) for {s['input']}, {s['threads']} threads, {s['reps']} interleaved rounds")
    ax.set_title(Path(s["model"]).name)
    ax.set_xlim(0, max(p90) * 1.6)
    ax.legend(loc="lower right")
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=120)
    plt.close(fig)
