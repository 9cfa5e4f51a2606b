"""``edge-ssl import``: a pretrained teacher (HF transformers folder or fairseq .pt) -> edge-ssl model file."""
from __future__ import annotations

from pathlib import Path

import typer

from edge_ssl.cli.app import app

HELP = {"help_option_names": ["-h", "--help"]}


@app.command("import", context_settings=HELP)
def import_(
    src: Path = typer.Argument(..., help="HF model folder (config.json + model.safetensors or pytorch_model.bin, "
                                         "vocab.json for *ForCTC) or a fairseq checkpoint .pt."),
    out: Path = typer.Option(..., "--out", "-o", help="edge-ssl model file to write (.safetensors); a CTC "
                                                      "model also gets tokens.txt beside it."),
    dict_path: Path = typer.Option(None, "--dict", help="fairseq CTC fine-tune: its dict.ltr.txt (default: the "
                                                        "dictionary inside the checkpoint, else dict.ltr.txt beside it)."),
    encoder_only: bool = typer.Option(False, "--encoder-only", help="Import only the encoder, dropping any head."),
    verify: bool = typer.Option(False, "--verify", help="HF folders: compare every hidden state (and CTC logit) "
                                                        "with transformers before writing (needs transformers)."),
) -> None:
    """Import wav2vec 2.0 / HuBERT / data2vec-audio (and their CTC fine-tunes) as an edge-ssl model."""
    from edge_ssl.models.convert import import_to_file

    teacher, tokens, check = import_to_file(src, out, dict_path, encoder_only, verify)
    e = teacher.encoder
    typer.echo(f"{teacher.family} {teacher.kind}: {e.num_layers} layers x {e.embed_dim}, "
               f"{'pre-LN' if e.layer_norm_first else 'post-LN'}, {e.extractor_mode} extractor -> {out}")
    if tokens:
        typer.echo(f"vocabulary ({len(teacher.vocab)} tokens, blank id 0) -> {tokens}")
    if check:
        layers = " ".join(f"{d:.1e}" for d in check.layer_max_abs_diff)
        logits = "" if check.logits_max_abs_diff is None else f"; logits {check.logits_max_abs_diff:.1e}"
        typer.echo(f"max |diff| vs transformers per hidden state: {layers}{logits}")
