"""``hubert-targets``: k-means labels for HuBERT pretraining (iteration 1 from MFCCs, 2+ from a model layer)."""
from __future__ import annotations

from pathlib import Path

import typer

from edge_ssl.cli.app import app


@app.command("hubert-targets", context_settings={"help_option_names": ["-h", "--help"]})
def hubert_targets(
    manifests: list[Path] = typer.Argument(..., help="Manifests to label; k-means is fitted on a sample of the first."),
    out: Path = typer.Option(..., "--out", "-o", help="Output folder: <stem>.km per manifest, kmeans.safetensors, targets.json."),
    features: str = typer.Option("mfcc", help="'mfcc' (iteration 1) or a pretrained model file (iteration 2+)."),
    layer: int = typer.Option(6, help="Model features: transformer layer whose output is clustered (1-based)."),
    clusters: int = typer.Option(100, "--clusters", "-k", help="Number of k-means clusters (paper: 100, then 500)."),
    fit_fraction: float = typer.Option(0.1, help="Share of the first manifest's utterances to fit k-means on."),
    seed: int = typer.Option(0, help="Sampling and k-means seed."),
    n_init: int = typer.Option(20, help="k-means restarts (fairseq simple_kmeans: 20)."),
) -> None:
    """Fit k-means on features of a sample, dump labels aligned with each manifest, report purity."""
    from edge_ssl.targets.dump import TargetsConfig, build_targets

    cfg = TargetsConfig(features=features, layer=layer, num_clusters=clusters, fit_fraction=fit_fraction,
                        seed=seed, n_init=n_init)
    report = build_targets(list(manifests), out, cfg)
    typer.echo(f"{report['features']}: {report['num_clusters']} clusters at {report['label_rate']:g} Hz -> {out}")
    for name, entry in report["manifests"].items():
        purity = ", ".join(f"{k} {entry[k]:.3f}" for k in ("char_purity", "cluster_purity", "pnmi") if k in entry)
        typer.echo(f"  {name}: {entry['utterances']} utterances{'; ' + purity if purity else ''}")
