import json

import pytest
import torch
from torch import nn

from edge_ssl.errors import EdgeSSLError
from edge_ssl.training.checkpoint import CheckpointError, load_checkpoint
from edge_ssl.training.distributed import DistInfo
from edge_ssl.training.loop import TrainConfig, fit, plot_metrics, seed_everything
from edge_ssl.training.optim import OptimConfig, lr_factor


class Sampler:
    """Shuffled fixed-size batches with the resume protocol the loop expects."""

    def __init__(self, n, bs):
        self.n, self.bs, self.epoch, self.start = n, bs, 0, 0

    def set_epoch(self, e):
        self.epoch = e

    def load_state_dict(self, s):
        self.epoch, self.start = s["epoch"], s["position"]

    def __iter__(self):
        g = torch.Generator().manual_seed(self.epoch)
        order = torch.randperm(self.n, generator=g).tolist()
        batches = [order[i:i + self.bs] for i in range(0, self.n, self.bs)]
        yield from batches[self.start:]

    def __len__(self):
        return (self.n + self.bs - 1) // self.bs


class Noisy(nn.Module):
    """Uses dropout and torch RNG in the loss, so resume must restore RNG state to match."""

    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(4, 16), nn.Dropout(0.3), nn.Linear(16, 1))

    def forward(self, batch):
        x = batch["x"] + 0.1 * torch.randn_like(batch["x"])
        loss = ((self.net(x).squeeze(-1) - batch["y"]) ** 2).mean()
        return loss, {"mse": loss.item()}


DATA = [{"x": torch.randn(4), "y": torch.tensor(float(i % 3))} for i in range(40)]


def collate(items):
    return {"x": torch.stack([d["x"] for d in items]), "y": torch.stack([d["y"] for d in items])}


class Crash(Exception):
    pass


class CrashingNoisy(Noisy):
    """Dies on its n-th forward call, like a killed job: whatever was not checkpointed is lost."""

    def __init__(self, crash_at):
        super().__init__()
        self.calls, self.crash_at = 0, crash_at

    def forward(self, batch):
        self.calls += 1
        if self.calls == self.crash_at:
            raise Crash
        return super().forward(batch)


def run(out, steps, save_every=100, crash_at=None):
    seed_everything(0)
    cfg = TrainConfig(max_steps=steps, log_every=1, save_every=save_every, grad_accum=2)
    module = CrashingNoisy(crash_at) if crash_at else Noisy()
    return fit(module, DATA, Sampler(40, 6), collate, OptimConfig(lr=1e-2, warmup=2), cfg, out, DistInfo())


def test_resume_is_exact(tmp_path):
    full = run(tmp_path / "a", 9)
    with pytest.raises(Crash):  # checkpoint at step 4, then dies inside step 6 (2 micro-batches a step)
        run(tmp_path / "b", 9, save_every=4, crash_at=12)
    assert load_checkpoint(tmp_path / "b" / "checkpoint.pt")["step"] == 4
    seed_everything(123)  # a new process would not share the old RNG state
    resumed = run(tmp_path / "b", 9)  # continues from step 4 with fresh Python objects
    assert [r["step"] for r in resumed] == list(range(5, 10))
    assert [r["loss"] for r in resumed] == [r["loss"] for r in full[4:]]
    lines = [json.loads(ln) for ln in (tmp_path / "b" / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in lines] == list(range(1, 10))
    assert full[-1]["loss"] < full[0]["loss"]
    plot_metrics(tmp_path / "b" / "metrics.jsonl", tmp_path / "loss.png")
    assert (tmp_path / "loss.png").read_bytes()[:4] == b"\x89PNG"


def test_corrupt_checkpoint_is_an_error(tmp_path):
    run(tmp_path / "c", 2)
    p = tmp_path / "c" / "checkpoint.pt"
    p.write_bytes(p.read_bytes()[:100])
    with pytest.raises(CheckpointError, match="corrupt"):
        run(tmp_path / "c", 4)


def test_nan_loss_names_the_step(tmp_path):
    class Bad(Noisy):
        def forward(self, batch):
            return torch.tensor(float("nan"), requires_grad=True), {}
    with pytest.raises(EdgeSSLError, match="step 1"):
        fit(Bad(), DATA, Sampler(40, 6), collate, OptimConfig(), TrainConfig(max_steps=2), tmp_path, DistInfo())


def test_schedules():
    cfg = OptimConfig(warmup=10, schedule="linear")
    assert lr_factor(0, 100, cfg) == pytest.approx(0.1) and lr_factor(9, 100, cfg) == 1.0
    assert lr_factor(55, 100, cfg) == pytest.approx(0.5)
    tri = OptimConfig(warmup=0.1, hold=0.4, schedule="tri_stage", final_lr_scale=0.05)
    assert lr_factor(30, 100, tri) == 1.0 and lr_factor(100, 100, tri) == pytest.approx(0.05)
    cos = OptimConfig(warmup=0, schedule="cosine", final_lr_scale=0.0)
    assert lr_factor(50, 100, cos) == pytest.approx(0.5)
