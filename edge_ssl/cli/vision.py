"""Vision commands: ``prepare-images`` (image folder -> manifest), ``embed`` (the image-feature demo).
Pretraining is ``edge-ssl pretrain mae``; export, verify and bench are the shared ``edge-ssl export``,
``verify`` and ``bench`` (a vit/mae model file exports as an image encoder)."""
from __future__ import annotations

from pathlib import Path

import typer

from edge_ssl.cli.app import app

HELP = {"help_option_names": ["-h", "--help"]}


@app.command("prepare-images", context_settings=HELP)
def prepare_images(
    root: Path = typer.Argument(..., help="Image folder; sub-folder names are the classes."),
    out: Path = typer.Option(..., "--out", "-o", help="JSONL manifest to write (data.source for pretrain mae)."),
) -> None:
    """Check every image under ROOT and write a manifest; unreadable files are reported and skipped."""
    from edge_ssl.vision.folder import prepare_image_folder

    n, problems = prepare_image_folder(root, out)
    for p in problems:
        typer.echo(f"skipped: {p}", err=True)
    typer.echo(f"wrote {out}: {n} images ({len(problems)} skipped)")


@app.command(context_settings=HELP)
def embed(
    model: Path = typer.Argument(..., help="Vision model (.safetensors: mae or vit) or exported encoder (.pte/.onnx)."),
    images: str = typer.Option(None, "--images", "-i", help="Image folder (sub-folders = labels), or builtin:lfw "
                               "(faces vs non-faces) / builtin:digits8x8. Default: the builtin digits, held-out split."),
    out: Path = typer.Option(Path("runs/embed"), "--out", "-o", help="Folder for PNGs, results.json, table.md."),
    query: list[Path] = typer.Option(None, "--query", "-q", help="Query image(s) for the retrieval grid."),
    k: int = typer.Option(8, help="Neighbours shown per query."),
    baseline: str = typer.Option(None, help="'random': also score the same encoder randomly initialised."),
    projection: str = typer.Option("pca", help="2-D map of the features: pca or tsne."),
    probe: bool = typer.Option(True, help="Also fit a linear probe (logistic regression)."),
    layers: bool = typer.Option(False, help="Also score every layer's cls and mean-pooled tokens (layers.md)."),
) -> None:
    """Embed images: retrieval grid, k-NN accuracy (k=20, T=0.07) and linear probe beside raw pixels, feature map,
    MAE reconstructions."""
    from edge_ssl.errors import EdgeSSLError
    from edge_ssl.vision.embed import run_embed, score_table

    if projection not in ("pca", "tsne"):
        raise EdgeSSLError(f"--projection must be pca or tsne, got {projection!r}")
    res = run_embed(model, out, images, [str(q) for q in query or []], k, baseline, projection, probe, layers=layers)
    for p in res["unreadable"]:
        typer.echo(f"skipped: {p}", err=True)
    typer.echo(score_table(res["scores"]), nl=False)
    typer.echo(f"wrote {out}/ (retrieval.png, {projection}.png, results.json, table.md)")
