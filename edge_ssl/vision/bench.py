"""Size and latency of a ViT encoder: eager vs its exported .pte / .onnx, one image at a time.

Each runtime is timed in its own process (an ExecuTorch threadpool left alive inflates later eager timings,
shared/STACK.md pitfall 4). Report ratios against eager from the same run: absolute numbers on a shared
machine are noisy. Run as ``edge-ssl bench-vit MODEL ARTIFACT...``; the worker entry point is this module.
"""
from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch

from edge_ssl.errors import EdgeSSLError


def _time_worker(path: str, image_size: int, channels: int, runs: int, threads: int) -> dict:
    torch.set_num_threads(threads)
    x = torch.randn(1, channels, image_size, image_size, generator=torch.Generator().manual_seed(0))
    p = Path(path)
    if p.suffix == ".safetensors":
        from edge_ssl.vision.evaluate import vit_embed_fn
        from edge_ssl.vision.model_io import load_vision_model

        fn = vit_embed_fn(load_vision_model(p)[0])
    else:
        from edge_ssl.vision.export import open_artifact

        fn = open_artifact(p)
    for _ in range(max(3, runs // 10)):  # warm-up
        fn(x)
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn(x)
        times.append(time.perf_counter() - t)
    return {"median_ms": 1000 * statistics.median(times), "p90_ms": 1000 * sorted(times)[int(0.9 * (runs - 1))]}


def bench_vit(model: str | Path, artifacts: list[str | Path], runs: int = 50, threads: int = 2) -> list[dict]:
    """Rows: runtime, file, size, median/p90 latency per image, speed-up vs eager."""
    from edge_ssl.vision.model_io import load_vision_model

    vit, _, _ = load_vision_model(model)
    c = vit.cfg
    rows = []
    for path in [model, *artifacts]:
        p = Path(path)
        if not p.is_file():
            raise EdgeSSLError(f"not found: {p}")
        args = [sys.executable, "-m", "edge_ssl.vision.bench", str(p), str(c.image_size), str(c.in_chans),
                str(runs), str(threads)]
        proc = subprocess.run(args, capture_output=True, text=True)
        if proc.returncode:
            raise EdgeSSLError(f"benchmark of {p} failed: {proc.stderr.strip().splitlines()[-1:]}")
        timing = json.loads(proc.stdout.strip().splitlines()[-1])
        size = p.stat().st_size if p.suffix != ".safetensors" else sum(
            t.numel() * t.element_size() for t in vit.state_dict().values())
        rows.append({"runtime": {".safetensors": "eager", ".pte": "executorch", ".onnx": "onnxruntime"}[p.suffix],
                     "file": str(p), "size_mb": size / 1e6, **timing})
    base = rows[0]["median_ms"]
    for r in rows:
        r["speedup_vs_eager"] = base / r["median_ms"]
    return rows


def format_rows(rows: list[dict]) -> str:
    lines = ["| runtime | size (MB) | median ms/image | p90 ms | speed-up vs eager |", "|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['runtime']} | {r['size_mb']:.2f} | {r['median_ms']:.2f} | {r['p90_ms']:.2f} | "
                     f"{r['speedup_vs_eager']:.2f}x |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":  # worker: path image_size channels runs threads -> one JSON line
    path, size, chans, runs, threads = sys.argv[1:6]
    print(json.dumps(_time_worker(path, int(size), int(chans), int(runs), int(threads))))
