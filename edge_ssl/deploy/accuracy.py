"""Accuracy before/after quantization: CER on a labeled manifest for a CTC model, else output agreement
with the fp32 reference (max |Δ|, cosine)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edge_ssl.deploy.verify import output_text


@dataclass
class Accuracy:
    name: str                   # "fp32 eager", "int8-static .pte", ...
    cer: float | None           # character error rate on the manifest (None: no text or not CTC)
    max_abs: float | None       # max |output - fp32 reference| over utterances (None for the reference)
    cosine: float | None        # mean cosine with the fp32 reference
    utterances: int


def _cer(hyps: list[str], refs: list[str]) -> float:
    import jiwer

    return float(jiwer.cer(refs, hyps))


def measure(runners: dict[str, object], items: list[tuple[str, np.ndarray, str | None]]) -> list[Accuracy]:
    """``runners``: name -> Runner; the first is the fp32 reference. ``items``: (id, wave, text|None)."""
    from edge_ssl.asr.decode.tokenizer import normalize_text

    names = list(runners)
    outs = {n: [runners[n].run(w) for _, w, _ in items] for n in names}
    refs = [t for _, _, t in items]
    labeled = all(t for t in refs) and runners[names[0]].meta.output == "logits"
    result = []
    for i, n in enumerate(names):
        cer = _cer([output_text(o, runners[n]) or "" for o in outs[n]], [normalize_text(t) for t in refs]) if labeled else None
        if i == 0:
            result.append(Accuracy(n, cer, None, None, len(items)))
            continue
        diffs, coss = [], []
        for o, r in zip(outs[n], outs[names[0]]):
            diffs.append(float(np.abs(o - r).max()))
            a, b = o.ravel().astype(np.float64), r.ravel().astype(np.float64)
            coss.append(float(a @ b / max(np.linalg.norm(a) * np.linalg.norm(b), 1e-30)))
        result.append(Accuracy(n, cer, max(diffs), float(np.mean(coss)), len(items)))
    return result


def format_accuracy(rows: list[Accuracy]) -> str:
    lines = [f"{'model':<28} {'CER':>8} {'max|d|':>10} {'cosine':>10}  utts"]
    for r in rows:
        f = lambda v, p: "-" if v is None else format(v, p)  # noqa: E731
        lines.append(f"{r.name:<28} {f(r.cer, '8.4f'):>8} {f(r.max_abs, '10.4g'):>10} {f(r.cosine, '10.6f'):>10}  {r.utterances}")
    return "\n".join(lines)
