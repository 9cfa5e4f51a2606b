"""``edge-ssl demo``: the whole pipeline on the embedded offline default, resumable stage by stage."""
from __future__ import annotations

from pathlib import Path

import typer

from edge_ssl.cli.app import app


@app.command(context_settings={"help_option_names": ["-h", "--help"]})
def demo(
    root: Path = typer.Option(Path("runs/demo"), "--root", help="Stages write under ROOT/SCALE."),
    scale: str = typer.Option("tiny", "--scale", help="tiny (~20 min on 2 cores) | small | full: corpus size and steps."),
    force: list[str] = typer.Option([], "--force", help="Re-run this stage even if it finished (repeatable)."),
    only: list[str] = typer.Option([], "--only", help="Run only these stages (repeatable); their inputs must exist."),
) -> None:
    """Corpus -> HuBERT x2 + data2vec teachers -> distil -> CTC -> quantize/export/verify -> transcribe held-out
    voices -> MAE + image features; prints one summary table and writes ROOT/SCALE/report.md. Re-runs reuse stages."""
    from edge_ssl.demo import run_demo

    table, report = run_demo(root, scale, tuple(force), tuple(only), echo=typer.echo)
    typer.echo("\n" + table)
    typer.echo(f"\nreport: {report}")
