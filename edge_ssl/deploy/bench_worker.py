"""One benchmark measurement in a fresh process (runtimes must not share a process: an ExecuTorch
threadpool left alive inflated later eager timings 5-10x, shared/STACK.md pitfall 4).

    python -m edge_ssl.deploy.bench_worker runner model.pte --audio a.wav --threads 2 --reps 10
    python -m edge_ssl.deploy.bench_worker runner vit.onnx --threads 2       # image encoder: a seeded image
    python -m edge_ssl.deploy.bench_worker hf model.safetensors ...   # HF HubertForCTC, same shape
    python -m edge_ssl.deploy.bench_worker peak --threads 2           # 2048^2 fp32 matmul GFLOP/s

Prints one JSON object on the last stdout line.
"""
from __future__ import annotations

import argparse
import json
import time

import numpy as np


def _status_mb(key: str) -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024
    return float("nan")


def rss_mb() -> float:
    return _status_mb("VmRSS")


def peak_rss_mb() -> float:
    # VmHWM, not getrusage's ru_maxrss: Linux carries ru_maxrss over exec from the parent (the bench
    # process that exported the artifacts), which made every row report the parent's peak.
    return _status_mb("VmHWM")


def time_calls(fn, reps: int, warmup: int) -> list[float]:
    for _ in range(warmup):
        fn()
    out = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t) * 1000)
    return out


def matmul_peak(threads: int, n: int = 2048, reps: int = 10) -> dict:
    import torch

    torch.set_num_threads(threads)
    a, b = torch.randn(n, n), torch.randn(n, n)
    ms = time_calls(lambda: a @ b, reps, 3)
    return {"gflops": 2 * n**3 / (np.median(ms) / 1000) / 1e9, "ms": float(np.median(ms))}


def hf_model(path: str):
    """HF transformers ``HubertForCTC`` with the model file's encoder shape (random weights)."""
    import torch
    from transformers import HubertConfig, HubertForCTC

    from edge_ssl.models.store import encoder_config_from, read_model_meta

    meta = read_model_meta(path)
    c = encoder_config_from(meta, path)
    cfg = HubertConfig(
        vocab_size=len(meta.get("vocab", [])) or 32, hidden_size=c.embed_dim, num_hidden_layers=c.num_layers,
        num_attention_heads=c.num_heads, intermediate_size=c.ffn_dim, conv_dim=[ch for ch, _, _ in c.conv_layers],
        conv_kernel=[k for _, k, _ in c.conv_layers], conv_stride=[s for _, _, s in c.conv_layers],
        conv_bias=c.conv_bias, feat_extract_norm="group" if c.extractor_mode == "group_norm" else "layer",
        do_stable_layer_norm=c.layer_norm_first, num_conv_pos_embeddings=c.pos_conv_kernel,
        num_conv_pos_embedding_groups=c.pos_conv_groups, layer_norm_eps=c.layer_norm_eps)
    torch.manual_seed(0)
    return HubertForCTC(cfg).eval()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("kind", choices=["runner", "hf", "peak"])
    ap.add_argument("path", nargs="?")
    ap.add_argument("--audio")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--reps", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--quant", default="none")
    a = ap.parse_args()
    if a.kind == "peak":
        print(json.dumps(matmul_peak(a.threads)))
        return
    import torch

    from edge_ssl.audio.io import load_audio

    torch.set_num_threads(a.threads)
    wave = load_audio(a.audio) if a.audio else None
    if wave is None and a.kind == "hf":
        ap.error("hf needs --audio")
    base = rss_mb()
    t = time.perf_counter()
    if a.kind == "hf":
        model = hf_model(a.path)
        x = torch.from_numpy(wave)[None]

        def call():
            with torch.inference_mode():
                model(x)
    else:
        from edge_ssl.runtime import open_runner

        runner = open_runner(a.path, threads=a.threads, quant=a.quant)
        if runner.meta.is_image:  # one normalised image (C, S, S)
            wave = np.random.default_rng(0).standard_normal(runner.meta.image_shape).astype(np.float32)
        elif wave is None:
            ap.error(f"{a.path} is a speech model: pass --audio")

        def call():
            runner.run(wave)
    load_s = time.perf_counter() - t
    ms = time_calls(call, a.reps, a.warmup)
    print(json.dumps({"latencies_ms": ms, "load_s": load_s, "rss_base_mb": base, "peak_rss_mb": peak_rss_mb()}))


if __name__ == "__main__":
    main()
