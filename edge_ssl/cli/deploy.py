"""Deployment commands: ``export`` (ExecuTorch .pte / ONNX), ``quantize``, ``verify``, ``bench``."""
from __future__ import annotations

import json
from pathlib import Path

import typer

from edge_ssl.cli.app import app

HELP = {"help_option_names": ["-h", "--help"]}
FORMAT_SUFFIX = {"executorch": ".pte", "onnx": ".onnx"}


def _config(quant: str, calibration: Path | None, min_seconds: float, max_seconds: float | None,
            golden: list[Path] | None, keep_frontend_fp32: bool, verify: bool, threads: int | None):
    from edge_ssl.deploy.pipeline import ExportConfig

    return ExportConfig(quant=quant, keep_frontend_fp32=keep_frontend_fp32, min_seconds=min_seconds,
                        max_seconds=max_seconds, calibration=str(calibration) if calibration else None,
                        golden_audio=[str(p) for p in golden or []], verify=verify, threads=threads)


CALIB_HELP = "JSONL manifest of real audio: static int8 calibration, golden inputs, accuracy."
FRONTEND_HELP = ("Keep the first conv block (on the raw wave or log-mel, with its norm) in fp32; the later "
                 "front-end convs are int8 either way (accuracy; docs/export.md).")


@app.command(context_settings=HELP)
def export(
    fmt: str = typer.Argument(..., metavar="FORMAT", help="executorch (.pte, XNNPACK) or onnx."),
    model: Path = typer.Argument(..., help="Model file (.safetensors): ctc or speech_encoder (speech), vit or mae "
                                           "(image encoder: one image (1, C, S, S) -> feature (1, D))."),
    out: Path = typer.Option(..., "--out", "-o", help="Artifact path (.pte / .onnx); tokens.txt and "
                                                      "<artifact>.golden/ are written beside it."),
    quant: str = typer.Option("none", help="executorch: none|static|dynamic (PT2E; static is speech only); "
                                           "onnx: none|dynamic (ORT)."),
    calibration: Path = typer.Option(None, help=CALIB_HELP),
    min_seconds: float = typer.Option(0.05, help="Shortest accepted input (>= 0.045 s)."),
    max_seconds: float = typer.Option(None, help="Longest accepted input (memory is planned for it); default: the "
                                                 "model's longest, at most 30 s (Whisper: its window or positions)."),
    golden: list[Path] = typer.Option(None, help="Audio files for the golden vectors (repeatable)."),
    keep_frontend_fp32: bool = typer.Option(True, help=FRONTEND_HELP),
    verify: bool = typer.Option(True, help="Verify against eager before reporting success."),
    threads: int = typer.Option(None, help="Runtime threads for verification."),
) -> None:
    """Export a speech model or ViT image encoder to an ExecuTorch .pte or ONNX artifact with metadata and
    golden vectors, verified against eager."""
    from edge_ssl.deploy.pipeline import export_model
    from edge_ssl.errors import EdgeSSLError

    if fmt not in FORMAT_SUFFIX:
        raise EdgeSSLError(f"unknown format {fmt!r}; choose executorch or onnx")
    if out.suffix != FORMAT_SUFFIX[fmt]:
        raise EdgeSSLError(f"{out}: a {fmt} artifact must end in {FORMAT_SUFFIX[fmt]}")
    cfg = _config(quant, calibration, min_seconds, max_seconds, golden, keep_frontend_fp32, verify, threads)
    r = export_model(model, out, cfg)
    for rep in r.reports:
        typer.echo(rep.format())
    typer.echo(f"wrote {r.artifact} ({r.precision}, {r.size_bytes / 1e6:.2f} MB, {r.seconds:.0f} s)"
               + (f"; {r.partitions}" if r.partitions else ""))


@app.command(context_settings=HELP)
def quantize(
    model: Path = typer.Argument(..., help="ctc or speech_encoder model file (.safetensors)."),
    backend: str = typer.Option("executorch", help="executorch (PT2E/XNNPACK), onnx (ORT dynamic) or eager (torchao)."),
    scheme: str = typer.Option("static", help="executorch: static|dynamic; onnx: dynamic; eager: int8-weight|int8-dynamic."),
    out: Path = typer.Option(None, "--out", "-o", help="Artifact path (.pte / .onnx); none for eager."),
    calibration: Path = typer.Option(None, help=CALIB_HELP),
    eval_manifest: Path = typer.Option(None, "--eval", help="Manifest for the accuracy report (default: --calibration)."),
    keep_frontend_fp32: bool = typer.Option(True, help=FRONTEND_HELP),
    max_seconds: float = typer.Option(None, help="Longest accepted input; default: the model's longest, at most 30 s."),
    threads: int = typer.Option(None, help="Runtime threads."),
) -> None:
    """Quantize (torchao eager, PT2E .pte, ORT .onnx) and report accuracy before and after
    (CER for a CTC model on a labeled manifest, else max|Δ| and cosine against fp32)."""
    from edge_ssl.deploy.accuracy import format_accuracy
    from edge_ssl.deploy.pipeline import quantize_report

    cfg = _config("none", calibration, 0.05, max_seconds, None, keep_frontend_fp32, True, threads)
    result, rows = quantize_report(model, out, backend, scheme, cfg, str(eval_manifest) if eval_manifest else None)
    if result is not None:
        typer.echo(f"wrote {result.artifact} ({result.precision}, {result.size_bytes / 1e6:.2f} MB)"
                   + (f"; {result.partitions}" if result.partitions else ""))
    typer.echo(format_accuracy(rows))


@app.command("verify", context_settings=HELP)
def verify_cmd(
    artifact: Path = typer.Argument(..., help=".pte or .onnx artifact."),
    audio: list[Path] = typer.Argument(None, help="Audio files (default: the artifact's golden inputs)."),
    model: Path = typer.Option(None, help="Eager reference model (default: the source named in the golden index)."),
    threads: int = typer.Option(None, help="Runtime threads."),
    json_out: Path = typer.Option(None, "--json", help="Also write the report as JSON."),
) -> None:
    """Run an artifact in its real runtime against eager and its golden vectors; exit 1 on a mismatch."""
    from edge_ssl.deploy.audio import file_items
    from edge_ssl.deploy.verify import verify_artifact
    from edge_ssl.atomic import atomic_write_text
    from edge_ssl.runtime.eager import DEFAULT_MAX_SAMPLES

    items = [(n, w) for n, w, _ in file_items(audio, DEFAULT_MAX_SAMPLES * 100)] if audio else None
    reports = verify_artifact(artifact, items, model, threads)
    for r in reports:
        typer.echo(r.format())
    if json_out:
        atomic_write_text(json_out, json.dumps([r.to_dict() for r in reports], indent=1))
    if not all(r.passed for r in reports):
        raise typer.Exit(1)


@app.command(context_settings=HELP)
def bench(
    model: Path = typer.Argument(..., help="ctc model file (.safetensors), a vit/mae file (image-encoder rows, "
                                           "per-image latency), or a size name (tiny, distilhubert, base) for a "
                                           "random-weight CTC model of that shape."),
    out: Path = typer.Option(Path("bench/results"), "--out", "-o", help="Folder for artifacts, bench.json, "
                                                                        "bench.md and bench.png."),
    seconds: float = typer.Option(10.0, help="Audio length (speech models)."),
    threads: int = typer.Option(2, help="Threads per runtime."),
    reps: int = typer.Option(10, help="Interleaved rounds: each round times every backend and the matmul probe once, "
                                      "round-robin (after 2 warm-ups each)."),
    calibration: Path = typer.Option(None, help=CALIB_HELP + " Default: espeak-ng sentences."),
    only: list[str] = typer.Option(None, help="Run only these rows (e.g. pte-int8-static); repeatable."),
    hf: bool = typer.Option(True, help="Include the HF transformers eager fp32 baseline."),
    max_spread: float = typer.Option(0.2, help="A row or goal ratio whose IQR/median over the rounds exceeds this "
                                               "prints \"too noisy\" instead of a number."),
) -> None:
    """Size, peak memory, p50/p90 latency, RTF and GFLOP/s for each backend x precision, each in its own
    long-lived process, timed round-robin with the matmul peak probe; goal ratios are medians of per-round
    ratios against an HF transformers baseline."""
    from edge_ssl.deploy.bench import BenchConfig, run_bench

    cfg = BenchConfig(seconds=seconds, threads=threads, reps=reps, calibration=str(calibration) if calibration else None,
                      only=list(only or []), hf_baseline=hf, max_spread=max_spread)
    table = run_bench(str(model), out, cfg)
    typer.echo(table)
