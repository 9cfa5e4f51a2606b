"""One benchmark participant in its own long-lived process (runtimes must not share a process: an
ExecuTorch threadpool left alive inflated later eager timings 5-10x, shared/STACK.md pitfall 4).

    python -m edge_ssl.deploy.bench_worker runner model.pte --audio a.wav --threads 2
    python -m edge_ssl.deploy.bench_worker runner vit.onnx --threads 2       # image encoder: a seeded image
    python -m edge_ssl.deploy.bench_worker hf model.safetensors --audio a.wav  # HF HubertForCTC, same shape
    python -m edge_ssl.deploy.bench_worker peak --threads 2                  # one 2048^2 fp32 matmul per call

Protocol, JSON lines (no pickle): once loaded, the worker writes ``{"ready": true, "load_s", "rss_base_mb"}``;
then for each request line on stdin it writes one reply line:

    {"op": "time", "n": 3}  ->  {"ms": [t1, t2, t3], "start_s": <time.monotonic() at the first call>}
    {"op": "memory"}        ->  {"rss_base_mb", "peak_rss_mb"}

and exits on EOF. ``start_s`` is CLOCK_MONOTONIC, shared by all processes on Linux, so the parent can check
that calls in different workers never overlapped. Anything a library prints goes to stderr.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np

PEAK_N = 2048  # the matmul probe's size: peak GFLOP/s = 2 * PEAK_N**3 / time


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


def time_calls(fn, n: int) -> dict:
    start = time.monotonic()
    ms = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        ms.append((time.perf_counter() - t) * 1000)
    return {"ms": ms, "start_s": start}


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


def make_call(a: argparse.Namespace, ap: argparse.ArgumentParser):
    """The timed function of this participant."""
    import torch

    from edge_ssl.audio.io import load_audio

    torch.set_num_threads(a.threads)
    if a.kind == "peak":
        x, y = torch.randn(PEAK_N, PEAK_N), torch.randn(PEAK_N, PEAK_N)
        return lambda: x @ y
    wave = load_audio(a.audio) if a.audio else None
    if a.kind == "hf":
        if wave is None:
            ap.error("hf needs --audio")
        model = hf_model(a.path)
        x = torch.from_numpy(wave)[None]  # (1, T)

        def call():
            with torch.inference_mode():
                model(x)
        return call
    from edge_ssl.runtime import open_runner

    runner = open_runner(a.path, threads=a.threads, quant=a.quant)
    if runner.meta.is_image:  # one normalised image (C, S, S)
        wave = np.random.default_rng(0).standard_normal(runner.meta.image_shape).astype(np.float32)
    elif wave is None:
        ap.error(f"{a.path} is a speech model: pass --audio")
    return lambda: runner.run(wave)


def serve(call, rss_base: float, proto, requests) -> None:
    for line in requests:
        req = json.loads(line)
        op = req.get("op")
        if op == "time":
            reply = time_calls(call, int(req.get("n", 1)))
        elif op == "memory":
            reply = {"rss_base_mb": rss_base, "peak_rss_mb": peak_rss_mb()}
        else:
            raise ValueError(f"bench_worker: unknown op {op!r} in request {line.strip()!r}")
        proto.write(json.dumps(reply) + "\n")
        proto.flush()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("kind", choices=["runner", "hf", "peak"])
    ap.add_argument("path", nargs="?")
    ap.add_argument("--audio")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--quant", default="none")
    a = ap.parse_args()
    # The protocol keeps the real stdout; fd 1 becomes stderr, so C or Python prints from a runtime (torchao
    # warnings, ...) cannot corrupt a reply line.
    proto = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    import torch  # noqa: F401  (imports before the RSS baseline: peak memory is the model's, not torch's)

    base = rss_mb()
    t = time.perf_counter()
    call = make_call(a, ap)
    proto.write(json.dumps({"ready": True, "load_s": time.perf_counter() - t, "rss_base_mb": base}) + "\n")
    proto.flush()
    serve(call, base, proto, sys.stdin)


if __name__ == "__main__":
    main()
