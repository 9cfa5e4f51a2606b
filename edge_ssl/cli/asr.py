"""Speech recognition commands: ``finetune`` (CTC), ``distill`` (DistilHuBERT), ``evaluate`` (WER/CER),
``transcribe`` (offline, per file). Training commands run the same under ``torchrun -m edge_ssl ...``."""
from __future__ import annotations

from pathlib import Path

import typer

from edge_ssl.cli.app import app
from edge_ssl.cli.train import CONFIG_HELP, OVERRIDES_HELP, run_named_recipe

HELP = {"help_option_names": ["-h", "--help"]}


@app.command(context_settings=HELP)
def finetune(
    config: str = typer.Option(None, "--config", "-c", help=CONFIG_HELP + " E.g. ctc/tiny."),
    overrides: list[str] = typer.Argument(None, help=OVERRIDES_HELP + " model.init_from=teacher.safetensors"),
) -> None:
    """CTC fine-tuning (character vocabulary) of a pretrained, distilled or random encoder."""
    run_named_recipe("finetune_ctc", config, overrides)


@app.command(context_settings=HELP)
def distill(
    config: str = typer.Option(None, "--config", "-c", help=CONFIG_HELP + " E.g. distill/tiny."),
    overrides: list[str] = typer.Argument(None, help=OVERRIDES_HELP + " teacher=teacher.safetensors"),
) -> None:
    """DistilHuBERT: distil a teacher encoder into a small student (layer-prediction heads)."""
    run_named_recipe("distill", config, overrides)


@app.command(context_settings=HELP)
def evaluate(
    model: Path = typer.Argument(..., help="CTC model file (.safetensors from finetune; exported artifacts "
                                           "where the runtime supports them)."),
    manifest: Path = typer.Argument(..., help="Labeled JSONL manifest (with 'text')."),
    out: Path = typer.Option(None, "--out", "-o", help="Folder for results.jsonl and summary.json "
                                                       "(default: <model stem>_eval/<manifest stem> beside the model)."),
) -> None:
    """WER and CER with greedy CTC decoding; per-utterance JSONL and a summary JSON."""
    import json
    from dataclasses import asdict

    from edge_ssl.asr.evaluate import evaluate_manifest
    from edge_ssl.asr.transcribe import open_model

    out = out or model.parent / f"{model.stem}_eval" / manifest.stem
    summary = evaluate_manifest(open_model(model), manifest, out)
    typer.echo(json.dumps(asdict(summary), indent=2))
    typer.echo(f"CER {summary.cer:.2%}  WER {summary.wer:.2%}  ({summary.num_utterances} utterances) -> {out}")


@app.command(context_settings=HELP)
def transcribe(
    files: list[Path] = typer.Argument(..., help="Audio files (any sample rate / channel count)."),
    model: Path = typer.Option("runs/ctc_tiny/model.safetensors", "--model", "-m", help="CTC model file."),
) -> None:
    """Print the transcript of each audio file (``<file>\\t<text>``). Unreadable files are reported and skipped."""
    from edge_ssl.asr.transcribe import open_model, transcribe_file
    from edge_ssl.errors import EdgeSSLError

    runner = open_model(model)
    failed = 0
    for f in files:
        try:
            typer.echo(f"{f}\t{transcribe_file(runner, f)}")
        except EdgeSSLError as e:
            typer.echo(f"error: {e}", err=True)
            failed += 1
    if failed:
        raise typer.Exit(1)
