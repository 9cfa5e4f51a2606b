"""WER/CER of a CTC model on a labeled manifest: per-utterance JSONL plus a summary JSON.

The model is any runner (``edge_ssl.asr.transcribe``), so the same evaluation scores an eager model file
and an exported .onnx/.pte artifact, or a peer engine that returns text (``edge_ssl.asr.evaluate.peers``). A file
that cannot be read is reported and skipped, not fatal.
"""
from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import numpy as np
from tqdm import tqdm

from edge_ssl.asr.evaluate.metrics import ErrorCounts, error_counts
from edge_ssl.asr.decode.tokenizer import normalize_text
from edge_ssl.asr.transcribe import CTCRunner, TextRecognizer, decode
from edge_ssl.errors import EdgeSSLError
from edge_ssl.atomic import atomic_write_text

log = logging.getLogger(__name__)


@dataclass
class EvalSummary:
    manifest: str
    num_utterances: int          # scored
    num_failed: int              # unreadable audio, reported in the JSONL with an "error"
    wer: float
    cer: float
    word_errors: int
    words: int
    char_errors: int
    chars: int
    decoder: str                 # "greedy", "beam+lm", or a peer engine's own decoding
    audio_s: float = 0.0         # seconds of scored audio
    decode_s: float = 0.0        # wall seconds spent turning that audio into text (audio loading excluded)
    rtf: float = 0.0             # real-time factor: decode_s / audio_s


def _wave_to_text(runner: CTCRunner | TextRecognizer,
                  decoder: Callable[[np.ndarray], str] | None) -> tuple[Callable[[np.ndarray], str], str]:
    """(wave -> text, the decoder's name for the summary)."""
    if isinstance(runner, TextRecognizer):
        if decoder is not None:
            raise ValueError(f"{type(runner).__name__} decodes itself; it takes no logits decoder")
        return runner.transcribe, runner.decoder
    to_text = decoder or (lambda logits: decode(runner, logits))
    return (lambda wave: to_text(runner.run(wave))), "greedy" if decoder is None else "beam+lm"


def evaluate_manifest(runner: CTCRunner | TextRecognizer, manifest: str | Path, out_dir: str | Path | None = None,
                      decoder: Callable[[np.ndarray], str] | None = None, progress: bool = True) -> EvalSummary:
    """Decode every utterance of ``manifest`` and score it against its transcript.

    ``runner``: a CTC runner, or a peer engine that returns text. ``decoder``: logits (T, V) -> text for a
    CTC runner; greedy CTC when None. With ``out_dir``, writes
    ``out_dir/results.jsonl`` (id, ref, hyp, edit counts) and ``out_dir/summary.json`` atomically.
    """
    from edge_ssl.audio.io import load_audio
    from edge_ssl.data.manifest import read_manifest

    utts = read_manifest(manifest, lengths=False)  # a missing file is a failed row, not a manifest error
    if not utts:
        raise EdgeSSLError(f"{manifest}: empty manifest (no utterances to score)")
    unlabeled = [u.id for u in utts if u.text is None]
    if unlabeled:
        raise EdgeSSLError(f"{manifest}: {len(unlabeled)} utterance(s) have no 'text' to score against "
                           f"(first: {unlabeled[0]})")
    to_text, decoder_name = _wave_to_text(runner, decoder)
    rows, total, failed, audio_s, decode_s = [], ErrorCounts(), 0, 0.0, 0.0
    for utt in tqdm(utts, desc="evaluate", disable=not progress, dynamic_ncols=True):
        try:
            wave = load_audio(utt.audio_path, sample_rate=runner.sample_rate)
            t0 = time.perf_counter()
            hyp = to_text(wave)
            decode_s += time.perf_counter() - t0
        except EdgeSSLError as e:  # bad file or too-short audio: report, go on
            log.warning("%s: skipped (%s)", utt.id, e)
            rows.append({"id": utt.id, "error": str(e)})
            failed += 1
            continue
        audio_s += len(wave) / runner.sample_rate
        counts = error_counts(utt.text, hyp)
        total = total + counts
        rows.append({"id": utt.id, "ref": normalize_text(utt.text), "hyp": normalize_text(hyp), **asdict(counts)})
    if failed == len(utts):
        raise EdgeSSLError(f"{manifest}: no utterance could be decoded ({failed} failed)")
    summary = EvalSummary(str(manifest), len(utts) - failed, failed, round(total.wer, 5), round(total.cer, 5),
                          total.word_errors, total.words, total.char_errors, total.chars,
                          decoder_name, round(audio_s, 3), round(decode_s, 3), round(decode_s / audio_s, 4))
    if out_dir is not None:
        out = Path(out_dir)
        atomic_write_text(out / "results.jsonl", "".join(json.dumps(r) + "\n" for r in rows))
        atomic_write_text(out / "summary.json", json.dumps(asdict(summary), indent=2) + "\n")
    return summary


def utterance_counts(s: EvalSummary) -> str:
    """"300 utterances", or "298 utterances, 2 failed": a failed row is never hidden."""
    return f"{s.num_utterances} utterances" + (f", {s.num_failed} failed" if s.num_failed else "")


def comparison_table(summaries: list[tuple[str, EvalSummary]]) -> str:
    """Several systems scored on one manifest -> a markdown table (one row each, in the given order)."""
    lines = ["| system | decoder | CER | WER | RTF | utterances |", "|---|---|---:|---:|---:|---:|"]
    for name, s in summaries:
        lines.append(f"| {name} | {s.decoder} | {s.cer:.2%} | {s.wer:.2%} | {s.rtf:.3f} | "
                     f"{s.num_utterances}{f' ({s.num_failed} failed)' if s.num_failed else ''} |")
    return "\n".join(lines) + "\n"
