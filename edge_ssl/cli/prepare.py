"""``edge-ssl prepare synth|librispeech|folder``: audio on disk -> JSONL manifests."""
from __future__ import annotations

from pathlib import Path

import typer

from edge_ssl.cli.app import app

prepare_app = typer.Typer(
    help="Make JSONL manifests: an offline synthetic TTS corpus, LibriSpeech, or any folder of audio.",
    no_args_is_help=True,
)
app.add_typer(prepare_app, name="prepare")


@prepare_app.command(context_settings={"help_option_names": ["-h", "--help"]})
def synth(
    out_dir: Path = typer.Argument(Path("data/synth"), help="Output folder: {train,valid,test}.jsonl, audio/, corpus.json."),
    num_utterances: int = typer.Option(3000, "--num-utterances", "-n",
                                       help="Utterances over all splits (3000 is ~2 h of audio)."),
    seed: int = typer.Option(0, help="Same seed, same manifests and audio bytes."),
    jobs: int = typer.Option(0, "--jobs", "-j", help="Worker processes; 0 = one per core."),
    voices: str = typer.Option("", help="Comma-separated ENGINE:NAME voices (default: every installed "
                                        "catalogue voice; see docs/data.md)."),
    test_voices: str = typer.Option("", help="Comma-separated voices held out for the test split "
                                             "(default: flite:rms, espeak-ng:en-gb-scotland, espeak-ng:en-us+f4, "
                                             "festival:ked_diphone)."),
    augment_prob: float = typer.Option(0.4, help="Fraction of utterances given noise/reverb/telephone band."),
    max_sentences: int = typer.Option(0, help="Cap the WordNet sentence pool (0 = all ~39k)."),
) -> None:
    """Render a labeled English corpus with the offline TTS voices (flite, espeak-ng, festival, piper).

    Split by held-out voice: train (train voices), valid (train voices, new sentences), test (voices never
    heard in training, new sentences). Re-running with the same options reuses a complete corpus.
    """
    from edge_ssl.data.synth import SynthConfig, build_synth_corpus

    cfg = SynthConfig(num_utterances=num_utterances, seed=seed, augment_prob=augment_prob,
                      max_sentences=max_sentences or None)
    if voices:
        cfg.voices = tuple(v.strip() for v in voices.split(",") if v.strip())
    if test_voices:
        cfg.test_voices = tuple(v.strip() for v in test_voices.split(",") if v.strip())
    stats = build_synth_corpus(out_dir, cfg, jobs=jobs or None)
    for split, s in stats["splits"].items():
        typer.echo(f"{out_dir / (split + '.jsonl')}: {s['utterances']} utterances, {s['hours']:.2f} h, "
                   f"{len(s['voices'])} voices")


@prepare_app.command(context_settings={"help_option_names": ["-h", "--help"]})
def librispeech(
    root: Path = typer.Argument(..., help="LibriSpeech folder holding split folders (train-clean-100, ...)."),
    out_dir: Path = typer.Argument(..., help="Where to write <split>.jsonl."),
) -> None:
    """One manifest per LibriSpeech split found; bad or untranscribed files are reported and skipped."""
    from edge_ssl.data.prepare import prepare_librispeech

    report = prepare_librispeech(root, out_dir)
    typer.echo(report.summary())


@prepare_app.command(context_settings={"help_option_names": ["-h", "--help"]})
def folder(
    audio_dir: Path = typer.Argument(..., help="Folder searched recursively for wav/flac/ogg/mp3 files."),
    out: Path = typer.Argument(..., help="Manifest to write (e.g. data/mine.jsonl)."),
    transcripts: Path = typer.Option(None, help="'id<TAB>text' or 'id text' lines (id = file stem or relative "
                                                "path without suffix). Default: a sibling <name>.txt per file; "
                                                "files without text stay unlabeled."),
) -> None:
    """A manifest of every audio file under a folder, with transcripts where there are some."""
    from edge_ssl.data.prepare import prepare_folder

    report = prepare_folder(audio_dir, out, transcripts)
    typer.echo(report.summary())


@prepare_app.command(context_settings={"help_option_names": ["-h", "--help"]})
def real(
    out_dir: Path = typer.Argument(Path("data/real"), help="Output folder: <source>/audio/, <source>.jsonl, "
                                                           "the split manifests, corpus.json."),
    sources: str = typer.Option("", help="Comma-separated sources (default all): queen, sky, hedgewars, klettres, "
                                         "ktuberling, asterisk-fr, asterisk-it, asterisk-ru."),
    jobs: int = typer.Option(1, "--jobs", "-j", help="Decoding processes (1: the CPU is shared)."),
) -> None:
    """Real voice recordings from installed Debian packages -> 16 kHz WAV + manifests, resumably.

    Splits: heldout_real_test.jsonl (whole game characters never heard in training, >= 30 min),
    train_real_en.jsonl (every other English clip), unlabeled_other.jsonl (other languages). A source
    whose package is missing says what to apt-get install; the others still run.
    """
    from edge_ssl.data.real.corpus import prepare_real

    names = [s.strip() for s in sources.split(",") if s.strip()] or None
    stats = prepare_real(out_dir, names, jobs=max(1, jobs))
    for name, s in stats["sources"].items():
        typer.echo(f"{out_dir / (name + '.jsonl')}: {s['clips']} clips, {s['hours']:.2f} h, {s['speakers']} speakers")
    for name, s in stats["splits"].items():
        typer.echo(f"{out_dir / s['manifest']}: {s['clips']} clips, {s['minutes']:.1f} min, {s['speakers']} speakers")
    typer.echo(f"held out: {', '.join(stats['heldout_speakers'])}")


@prepare_app.command(context_settings={"help_option_names": ["-h", "--help"]})
def mix(
    out: Path = typer.Argument(..., help="Manifest to write (audio paths outside its folder are stored absolute)."),
    parts: list[str] = typer.Argument(..., help="Manifests to mix, each PATH or PATH:FRACTION (a seeded random "
                                                "share of its utterances, e.g. data/synth_big/train.jsonl:0.3)."),
    seed: int = typer.Option(0, help="Same seed, same share of each manifest."),
) -> None:
    """One training manifest from several (e.g. labeled real speech and part of a TTS corpus)."""
    from edge_ssl.data.mix import MixPart, mix_manifests

    stats = mix_manifests([MixPart.parse(p) for p in parts], out, seed=seed)
    for path, s in stats.items():
        typer.echo(f"{path}: {s['clips']} of {s['of']} clips, {s['hours']:.2f} h")
    typer.echo(f"-> {out}: {sum(s['clips'] for s in stats.values())} clips, "
               f"{sum(s['hours'] for s in stats.values()):.2f} h")
