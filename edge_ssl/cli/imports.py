"""``edge-ssl import``: a pretrained teacher (HF transformers folder, fairseq .pt or a Whisper encoder) -> edge-ssl
model file."""
from __future__ import annotations

from pathlib import Path

import typer

from edge_ssl.cli.app import app

HELP = {"help_option_names": ["-h", "--help"]}


@app.command("import", context_settings=HELP)
def import_(
    src: str = typer.Argument(..., help="HF model folder (config.json + model.safetensors or pytorch_model.bin, "
                                        "vocab.json for *ForCTC), a fairseq checkpoint .pt, or a Whisper encoder: "
                                        "whisper:base / whisper:tiny.en (offline), a CTranslate2 Whisper folder "
                                        "(model.bin) or a HF Whisper folder."),
    out: Path = typer.Option(..., "--out", "-o", help="edge-ssl model file to write (.safetensors); a CTC "
                                                      "model also gets tokens.txt beside it."),
    dict_path: Path = typer.Option(None, "--dict", help="fairseq CTC fine-tune: its dict.ltr.txt (default: the "
                                                        "dictionary inside the checkpoint, else dict.ltr.txt beside it)."),
    encoder_only: bool = typer.Option(False, "--encoder-only", help="Import only the encoder, dropping any head."),
    verify: bool = typer.Option(False, "--verify", help="HF folders: compare every hidden state (and CTC logit) "
                                                        "with transformers before writing (needs transformers); "
                                                        "CTranslate2 Whisper: the output with ctranslate2's."),
    pad_to: float = typer.Option(None, "--pad-to", metavar="SECONDS",
                                 help="Whisper: the saved encoder pads each clip with silence to at least this "
                                      "long and crops the outputs to the clip's frames. Default 30 (Whisper's own "
                                      "window: exact); 10: ~5x cheaper on short clips, final-layer cosine ~0.98 "
                                      "to 30; 0: the clip alone, cheapest, cosine ~0.9."),
) -> None:
    """Import wav2vec 2.0 / HuBERT / data2vec-audio (and their CTC fine-tunes) or a Whisper encoder as an edge-ssl
    model."""
    from edge_ssl.models.convert import import_to_file

    teacher, tokens, check = import_to_file(src, out, dict_path, encoder_only, verify, pad_to)
    e = teacher.encoder
    pad = f"clips padded to {e.pad_to_frames / 50:g} s" if e.pad_to_frames else "clips alone, unpadded"
    front = f"Whisper log-mel ({e.n_mels} mels), {pad}" if e.frontend == "whisper" else f"{e.extractor_mode} extractor"
    typer.echo(f"{teacher.family} {teacher.kind}: {e.num_layers} layers x {e.embed_dim}, "
               f"{'pre-LN' if e.layer_norm_first else 'post-LN'}, {front} -> {out}")
    if tokens:
        typer.echo(f"vocabulary ({len(teacher.vocab)} tokens, blank id 0) -> {tokens}")
    if check:
        layers = " ".join(f"{d:.1e}" for d in check.layer_max_abs_diff)
        logits = "" if check.logits_max_abs_diff is None else f"; logits {check.logits_max_abs_diff:.1e}"
        ct2 = src.startswith("whisper:") or (Path(src) / "model.bin").is_file()
        ref = "ctranslate2 (encoder output)" if ct2 else "transformers per hidden state"
        typer.echo(f"max |diff| vs {ref}: {layers}{logits}")
