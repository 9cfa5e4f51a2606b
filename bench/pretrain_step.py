"""One HuBERT pretraining step (forward + backward) of the BASE-shaped model, ours against HF transformers'
``HubertModel`` with the same head, measured in the same process on the same fixed batch.

    .venv/bin/python bench/pretrain_step.py [--batch 2] [--seconds 4] [--steps 3] [--rounds 3] [--threads N]

Both models: 12 x 768, conv extractor with group norm, dropout 0.1, layerdrop 0 (a fixed workload), the same
span mask (ours, passed to HF as ``mask_time_indices``), the same objective (final_proj 256 -> cosine with
100 label embeddings / 0.1 -> CE on masked frames). Runs alternate (ours, theirs, ours, ...) so load
changes on a shared machine hit both; the report is the median step time of each and their ratio
(goal: ours <= 0.8 x theirs). Results are printed and written to bench/results/pretrain_step.json.
"""
from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from pathlib import Path

import torch
from torch import nn

from edge_ssl.methods.hubert import HubertObjective, HubertPretrainer
from edge_ssl.models.speech_encoder import base
from edge_ssl.objectives import hubert as obj


class HFHubert(nn.Module):
    """transformers' HubertModel + the same head and loss as ours."""

    def __init__(self, num_classes: int = 100, final_dim: int = 256):
        super().__init__()
        from transformers import HubertConfig, HubertModel

        cfg = HubertConfig(layerdrop=0.0, mask_time_prob=0.8,  # >0 creates masked_spec_embed; our mask is passed in
                           hidden_dropout=0.1, attention_dropout=0.1,
                           activation_dropout=0.0, feat_proj_dropout=0.1)
        self.model = HubertModel(cfg)
        self.final_proj = nn.Linear(cfg.hidden_size, final_dim)
        self.label_embs = nn.Parameter(torch.empty(num_classes, final_dim).uniform_())

    def forward(self, wave: torch.Tensor, mask: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        hidden = self.model(wave, mask_time_indices=mask).last_hidden_state        # (B, T, C)
        logits = obj.cluster_logits(self.final_proj(hidden[mask]), self.label_embs)
        return nn.functional.cross_entropy(logits, targets[mask])


def timed(fn, steps: int) -> list[float]:
    out = []
    for _ in range(steps):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=2)
    ap.add_argument("--seconds", type=float, default=4.0)
    ap.add_argument("--steps", type=int, default=3, help="timed fwd+bwd steps per round (after 1 warm-up)")
    ap.add_argument("--rounds", type=int, default=3, help="alternating rounds of ours / theirs")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    ap.add_argument("--out", default="bench/results/pretrain_step.json")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    S = int(args.seconds * 16000)
    wave = torch.randn(args.batch, S) * 0.1
    ours = HubertPretrainer(base(layerdrop=0.0), HubertObjective(num_classes=100, label_rate=50.0)).train()
    theirs = HFHubert().train()
    T = ours.encoder.frame_lengths(torch.tensor([S])).item()
    labels = torch.randint(0, 100, (args.batch, T))
    batch = {"wave": wave, "lengths": None, "indices": torch.arange(args.batch), "labels": labels}
    with torch.no_grad():
        fe = ours.front_end(wave, None)
        mask = ours.span_mask(batch, fe)                                           # (B, T), shared by both

    def step_ours():
        ours.zero_grad(set_to_none=True)
        loss, _ = ours(batch)
        loss.backward()

    def step_theirs():
        theirs.zero_grad(set_to_none=True)
        theirs(wave, mask, labels).backward()

    count = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    times = {"ours": [], "hf_transformers": []}
    for fn in (step_ours, step_theirs):
        fn()  # warm-up
    for _ in range(args.rounds):
        times["ours"] += timed(step_ours, args.steps)
        times["hf_transformers"] += timed(step_theirs, args.steps)
    med = {k: statistics.median(v) for k, v in times.items()}
    result = {
        "what": "HuBERT BASE pretraining step (fwd+bwd), fixed batch",
        "batch": f"{args.batch} x {args.seconds:g} s ({T} frames)", "threads": torch.get_num_threads(),
        "params": {"ours": count(ours), "hf_transformers": count(theirs)},
        "median_s": med, "all_s": times, "ratio_ours_over_hf": med["ours"] / med["hf_transformers"],
        "torch": torch.__version__, "machine": platform.processor() or platform.machine(),
    }
    print(json.dumps({k: v for k, v in result.items() if k != "all_s"}, indent=2))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
