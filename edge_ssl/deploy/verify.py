"""Verify an artifact in its real runtime against a reference: eager PyTorch on the source model, and/or
the golden vectors written beside it.

Pass rules, per utterance: fp32 needs max|Δ| <= 1e-3 x max(1, max|ref|) and, for CTC, the same greedy text;
int8 needs cosine(artifact, reference) >= 0.95 (its text is reported: quantization may flip a character).
"""
from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from edge_ssl.deploy.golden import golden_dir, read_golden, tolerance_for
from edge_ssl.errors import EdgeSSLError

log = logging.getLogger(__name__)

MIN_COSINE_INT8 = 0.95


@dataclass
class Check:
    name: str
    num_samples: int
    max_abs: float          # max |artifact - reference|
    rel: float              # max_abs / max(1, max |reference|)
    cosine: float           # of the flattened outputs
    text: str | None        # greedy CTC text of the artifact (None for an encoder)
    ref_text: str | None
    passed: bool


@dataclass
class VerifyReport:
    artifact: str
    reference: str          # "eager <model file>" or "golden vectors"
    precision: str
    checks: list[Check] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return bool(self.checks) and all(c.passed for c in self.checks)

    def format(self) -> str:
        lines = [f"{self.artifact} ({self.precision}) vs {self.reference}: {'PASS' if self.passed else 'FAIL'}"]
        for c in self.checks:
            same = "" if c.text is None else ("  text identical" if c.text == c.ref_text else
                                              f"  text differs: {c.text!r} vs {c.ref_text!r}")
            lines.append(f"  {'ok  ' if c.passed else 'FAIL'} {c.name}: {c.num_samples} samples, max|d|={c.max_abs:.3g} "
                         f"(rel {c.rel:.3g}), cos={c.cosine:.6f}{same}")
        return "\n".join(lines)

    def to_dict(self) -> dict:
        return {**asdict(self), "passed": self.passed}


def output_text(out: np.ndarray, runner) -> str | None:
    """A CTC artifact's greedy text for its output (T, V); None for a feature or image encoder."""
    if runner.meta.output != "logits":
        return None
    from edge_ssl.asr.transcribe import decode

    return decode(runner, out)


def compare(name: str, out: np.ndarray, ref: np.ndarray, runner, ref_text: str | None, *, max_rel: float,
            min_cosine: float | None) -> Check:
    if out.shape != ref.shape:
        return Check(name, 0, float("inf"), float("inf"), 0.0, None, ref_text, False)
    diff = float(np.abs(out - ref).max())
    rel = diff / max(1.0, float(np.abs(ref).max()))
    a, b = out.ravel().astype(np.float64), ref.ravel().astype(np.float64)
    cos = float(a @ b / max(np.linalg.norm(a) * np.linalg.norm(b), 1e-30))
    text = output_text(out, runner)
    if min_cosine is None:  # exact-precision rule
        ok = rel <= max_rel and (text is None or text == ref_text)
    else:
        ok = cos >= min_cosine
    return Check(name, 0, diff, rel, cos, text, ref_text, ok)


def verify_artifact(artifact: str | Path, audio: list[tuple[str, np.ndarray]] | None = None,
                    model: str | Path | None = None, threads: int | None = None) -> list[VerifyReport]:
    """Run ``artifact`` on ``audio`` (default: its golden inputs) and compare with eager ``model`` (default:
    the source model named in the golden index, when it still exists) and with the golden outputs."""
    from edge_ssl.deploy.publish import recover
    from edge_ssl.runtime import open_runner
    from edge_ssl.runtime.eager import EagerRunner

    recover(artifact)  # an export killed while publishing: finish it, so artifact and golden vectors match
    runner = open_runner(artifact, threads=threads)
    precision = runner.meta.precision
    index, golden = (read_golden(artifact) if golden_dir(artifact).exists() else ({}, []))
    items = audio if audio else [(g.name, g.wave) for g in golden]
    if not items:
        raise EdgeSSLError(f"{artifact}: nothing to verify on: give audio files or export golden vectors")
    outputs = [runner.run(w) for _, w in items]
    reports = []

    if model is None and index.get("source_model") and Path(index["source_model"]).is_file():
        model = index["source_model"]
    if model is not None:
        eager = EagerRunner(model)
        rep = VerifyReport(str(artifact), f"eager {model}", precision)
        for (name, wave), out in zip(items, outputs):
            ref = eager.run(wave)
            c = compare(name, out, ref, runner, output_text(ref, runner), max_rel=1e-3,
                        min_cosine=None if precision == "fp32" else MIN_COSINE_INT8)
            c.num_samples = int(np.size(wave))  # samples, or C*S*S image values
            rep.checks.append(c)
        reports.append(rep)
    if not audio and golden:
        rep = VerifyReport(str(artifact), "golden vectors", precision)
        for g, out in zip(golden, outputs):
            c = compare(g.name, out, g.expected, runner, g.text, max_rel=index.get("tolerance_rel_max_abs",
                        tolerance_for(precision)), min_cosine=None)
            c.num_samples = int(g.wave.size)
            rep.checks.append(c)
        reports.append(rep)
    if not reports:
        raise EdgeSSLError(f"{artifact}: no reference to verify against: pass --model MODEL.safetensors")
    for r in reports:
        log.debug("%s", r.format())  # the caller prints or stores the reports
    return reports
