"""Where a .pte spends its time, per op family, from ExecuTorch's ETDump (the wheel's XNNPACK delegate
reports one event per XNNPACK operator, e.g. "Convolution (NHWC, QC8) IGEMM #2").

    python bench/profile_pte.py bench/results/distilhubert_p1_run1/artifacts/distilhubert_ctc_random.int8-static.pte \
        --audio bench/results/distilhubert_p1_run1/artifacts/bench_audio.wav --threads 2 --runs 3 [--ops]

Prints the wall time per run, then per family the median over the runs (the first run, a warm-up, is
left out) and its share; ``--ops`` also lists every operator in execution order. Times are absolute and
depend on the machine's load: compare shares, or profiles taken back to back.
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections import defaultdict
from pathlib import Path

SKIP = ("Method::execute", "Program::load_method", "Method::init", "DELEGATE_CALL")  # totals, not leaves
# family -> lower-case name fragments of XNNPACK operators or ExecuTorch kernels, matched in this order
FAMILIES = [
    ("conv", ("convolution",)),
    ("linear/matmul", ("fully connected", "batch matrix multiply", "linear", "addmm", "bmm", "mm.")),
    ("norm (mean/var/rsqrt)", ("mean", "reciprocal square root", "rsqrt", "layer_norm", "group_norm")),
    ("softmax", ("softmax",)),
    ("gelu", ("gelu", "invalid unary op")),  # XNNPACK names its int8 (table) GELU "Invalid Unary Op"
    ("quantize/convert", ("convert", "quantize")),
    ("copies/permutes", ("transpose", "copy", "constant pad", "concatenate", "slice", "static reshape")),
    ("elementwise", ("add", "subtract", "multiply", "divide")),
]


def family(name: str) -> str:
    low = name.lower()
    return next((fam for fam, keys in FAMILIES if any(k in low for k in keys)), "other: " + name)


def profile(pte: Path, audio: Path, threads: int, runs: int) -> tuple[list[float], list[tuple[str, float]]]:
    """(wall ms per run, [(operator, median ms over runs after the first)] in execution order)."""
    import torch
    from executorch.devtools import Inspector
    from executorch.extension.pybindings.portable_lib import _load_for_executorch, _unsafe_reset_threadpool

    from edge_ssl.audio.io import load_audio

    _unsafe_reset_threadpool(threads)
    module = _load_for_executorch(str(pte), enable_etdump=True)
    x = torch.from_numpy(load_audio(audio))[None]  # (1, S)
    wall = []
    for _ in range(runs + 1):
        t = time.perf_counter()
        module.forward((x,))
        wall.append((time.perf_counter() - t) * 1000)
    with tempfile.TemporaryDirectory() as d:
        dump = Path(d) / "etdump.etdp"
        module.write_etdump_result_to_file(str(dump))
        inspector = Inspector(etdump_path=str(dump))
    ops = []
    for block in inspector.event_blocks:
        for ev in block.events:
            if ev.perf_data is not None and ev.name not in SKIP:
                raw = ev.perf_data.raw
                ops.append((ev.name, statistics.median(raw[1:] if len(raw) > 1 else raw)))
    return wall[1:], ops


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("pte", type=Path)
    ap.add_argument("--audio", type=Path, required=True)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--ops", action="store_true", help="list every operator in execution order")
    a = ap.parse_args()
    wall, ops = profile(a.pte, a.audio, a.threads, a.runs)
    per = defaultdict(float)
    for name, ms in ops:
        per[family(name)] += ms
    total = sum(per.values())
    print(f"{a.pte.name}: wall ms per run {', '.join(f'{w:.0f}' for w in wall)}; operators sum to {total:.0f} ms")
    for fam, ms in sorted(per.items(), key=lambda kv: -kv[1]):
        print(f"  {fam:24s} {ms:8.1f} ms  {100 * ms / total:5.1f}%")
    if a.ops:
        for name, ms in ops:
            print(f"  {ms:8.1f} ms  {name}")


if __name__ == "__main__":
    main()
