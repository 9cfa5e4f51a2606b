"""The one training loop every recipe shares, alone or under ``torchrun``.

It trains any module whose ``forward(batch)`` returns ``(loss, logs)``: the recipe builds that module
(pretraining objective, distiller, CTC, MAE), the data, and the optimiser config; this loop adds DDP,
gradient accumulation, clipping, autocast, the schedule, JSONL metrics, a progress bar, and
checkpoints that resume bit-exactly (sampler position and every RNG included).

Hooks the module may define: ``on_update(step)`` after each optimiser step (EMA teacher, Gumbel
temperature), ``param_groups()`` to give the optimiser custom groups.
"""
from __future__ import annotations

import contextlib
import json
import logging
import math
import random
import signal
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Literal

import numpy as np
import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel as DDP
from torch.utils.data import DataLoader
from tqdm import tqdm

from edge_ssl.errors import EdgeSSLError
from edge_ssl.atomic import atomic_write_text, remove_stale_temps
from edge_ssl.training.checkpoint import load_checkpoint, rng_state, save_checkpoint, set_rng_state
from edge_ssl.training.distributed import DistInfo, all_reduce_mean
from edge_ssl.training.optim import OptimConfig, build_optimizer, build_scheduler

log = logging.getLogger(__name__)

CHECKPOINT = "checkpoint.pt"
METRICS = "metrics.jsonl"


@dataclass
class TrainConfig:
    max_steps: int = 1000                 # optimiser updates
    grad_accum: int = 1                   # micro-batches per update: effective batch = batch x accum x world
    clip_norm: float = 10.0               # max global grad norm; 0 disables
    precision: Literal["auto", "fp32", "bf16"] = "auto"  # auto: bf16 autocast on GPUs that support it
    log_every: int = 10                   # steps between metric lines
    save_every: int = 250                 # steps between checkpoints (the last step always saves)
    seed: int = 1
    device: Literal["auto", "cpu", "cuda"] = "auto"
    num_workers: int = 0                  # DataLoader workers (crops are seeded per item, so >0 stays exact)
    find_unused_parameters: bool = False  # DDP: needed when layerdrop skips layers
    allow_config_change: bool = False     # resume a checkpoint although the config changed (new values apply)

    def validate(self) -> None:
        for key in ("max_steps", "grad_accum", "log_every", "save_every"):
            if getattr(self, key) < 1:
                raise ValueError(f"{key} must be at least 1, got {getattr(self, key)}")
        if self.clip_norm < 0 or self.num_workers < 0:
            raise ValueError(f"clip_norm and num_workers must be >= 0, got {self.clip_norm}, {self.num_workers}")


def seed_everything(seed: int, rank: int = 0) -> None:
    random.seed(seed + rank)
    np.random.seed(seed + rank)
    torch.manual_seed(seed + rank)


def _autocast(cfg: TrainConfig, device: torch.device):
    bf16 = cfg.precision == "bf16" or (
        cfg.precision == "auto" and device.type == "cuda" and torch.cuda.is_bf16_supported())
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16)


class _BatchStream:
    """Endless batches over epochs; counts what was consumed so a checkpoint can resume mid-epoch."""

    def __init__(self, dataset, sampler, collate_fn, num_workers: int, epoch: int = 0, position: int = 0):
        self.dataset, self.sampler, self.collate_fn = dataset, sampler, collate_fn
        self.num_workers, self.epoch, self.position = num_workers, epoch, position

    def __iter__(self) -> Iterator[dict]:
        while True:
            for obj in (self.sampler, self.dataset):
                if hasattr(obj, "set_epoch"):
                    obj.set_epoch(self.epoch)
            self.sampler.load_state_dict({"epoch": self.epoch, "position": self.position})
            # Own generator: creating a loader iterator must not draw from the global RNG, or a resumed
            # run (which creates one at a different moment) would diverge.
            loader = DataLoader(self.dataset, batch_sampler=self.sampler, collate_fn=self.collate_fn,
                                num_workers=self.num_workers, generator=torch.Generator().manual_seed(self.epoch))
            got = False
            for batch in loader:
                got = True
                self.position += 1
                yield batch
            if not got and self.position == 0:
                raise EdgeSSLError("the training data yields no batches (empty manifest or batch budget too small)")
            self.epoch, self.position = self.epoch + 1, 0


def _to(batch: Any, device: torch.device) -> Any:
    if isinstance(batch, torch.Tensor):
        return batch.to(device, non_blocking=True)
    if isinstance(batch, dict):
        return {k: _to(v, device) for k, v in batch.items()}
    return batch


def _truncate_metrics(path: Path, step: int) -> None:
    """After a resume, drop lines logged past the checkpoint so the log has no duplicated steps."""
    if path.is_file():
        keep = [ln for ln in path.read_text().splitlines() if ln.strip() and json.loads(ln).get("step", 0) <= step]
        atomic_write_text(path, "".join(ln + "\n" for ln in keep))


def fit(module: nn.Module, dataset, sampler, collate_fn, optim_cfg: OptimConfig, cfg: TrainConfig,
        out_dir: str | Path, info: DistInfo) -> list[dict]:
    """Train ``module`` for ``cfg.max_steps`` updates; resumes from ``out_dir/checkpoint.pt`` if present.

    Returns the metric records logged by this process (rank 0 writes them to ``out_dir/metrics.jsonl``).
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if info.is_main:
        remove_stale_temps(out)  # a checkpoint write killed mid-way left its temp file
    device = info.device
    module.to(device)
    model = DDP(module, find_unused_parameters=cfg.find_unused_parameters) if info.distributed else module
    groups = module.param_groups() if hasattr(module, "param_groups") else \
        [p for p in module.parameters() if p.requires_grad]
    opt = build_optimizer(groups, optim_cfg)
    sched = build_scheduler(opt, optim_cfg, cfg.max_steps)
    params = [p for g in opt.param_groups for p in g["params"]]

    step, epoch, position = 0, 0, 0
    seed_everything(cfg.seed, info.rank)  # after model init (identical on all ranks): per-rank masks/dropout
    ckpt_path = out / CHECKPOINT
    if ckpt_path.exists():
        step, epoch, position = _resume(ckpt_path, module, opt, sched, info)
        if info.is_main:
            _truncate_metrics(out / METRICS, step)
            log.info("resumed from %s at step %d (epoch %d, batch %d)", ckpt_path, step, epoch, position)
    while _start_hooks:
        _start_hooks.pop(0)()

    stream = _BatchStream(dataset, sampler, collate_fn, cfg.num_workers, epoch, position)
    batches = iter(stream)
    history: list[dict] = []
    bar = tqdm(total=cfg.max_steps, initial=step, disable=not info.is_main, desc=out.name, dynamic_ncols=True)
    t0 = time.time()
    saved = step
    with _interrupt_at_step_end(enabled=not info.distributed) as interrupted:
        while step < cfg.max_steps:
            if interrupted():
                bar.close()
                if step > saved:
                    _save(ckpt_path, module, opt, sched, step, stream, info)
                log.warning("interrupted at step %d; %s holds it: run the same command to resume", step, ckpt_path)
                raise KeyboardInterrupt
            model.train()
            opt.zero_grad(set_to_none=True)
            logs_sum: dict[str, float] = {}
            for micro in range(cfg.grad_accum):
                batch = _to(next(batches), device)
                sync = micro == cfg.grad_accum - 1
                ctx = model.no_sync() if info.distributed and not sync else contextlib.nullcontext()
                with ctx:  # skip the gradient all-reduce on all but the last micro-batch
                    with _autocast(cfg, device):
                        loss, logs = model(batch)
                    if not torch.isfinite(loss):
                        raise EdgeSSLError(f"loss is {loss.item()} at step {step + 1}: lower the lr or check the data")
                    (loss / cfg.grad_accum).backward()
                for k, v in {"loss": loss.item(), **logs}.items():
                    logs_sum[k] = logs_sum.get(k, 0.0) + float(v) / cfg.grad_accum
            if cfg.clip_norm > 0:
                logs_sum["grad_norm"] = float(torch.nn.utils.clip_grad_norm_(params, cfg.clip_norm))
            opt.step()
            sched.step()
            step += 1
            if hasattr(module, "on_update"):
                module.on_update(step)
            bar.update(1)

            if step % cfg.log_every == 0 or step == cfg.max_steps:
                record = {"step": step, **all_reduce_mean(logs_sum, info), "lr": sched.get_last_lr()[0],
                          "epoch": stream.epoch, "elapsed_s": round(time.time() - t0, 2)}
                history.append(record)
                bar.set_postfix(loss=f"{record['loss']:.4f}")
                if info.is_main:
                    with open(out / METRICS, "a") as f:
                        f.write(json.dumps(record) + "\n")
            if step % cfg.save_every == 0 or step == cfg.max_steps:
                _save(ckpt_path, module, opt, sched, step, stream, info)
                saved = step
    bar.close()
    return history


def _resume(path: Path, module: nn.Module, opt, sched, info: DistInfo) -> tuple[int, int, int]:
    """Load a checkpoint into the run -> (step, epoch, position). Weights, moments, schedule position and RNGs
    come from the checkpoint; the hyperparameters (lr, betas, weight decay, the schedule's shape) stay the
    config's, so a resume allowed to change them (train.allow_config_change) uses the new values."""
    state = load_checkpoint(path)
    fresh = [{k: v for k, v in g.items() if k != "params"} for g in opt.param_groups]
    module.load_state_dict(state["model"])
    opt.load_state_dict(state["optimizer"])
    sched.load_state_dict(state["scheduler"])
    sched.base_lrs = [f["initial_lr"] for f in fresh]
    for g, f, base, factor in zip(opt.param_groups, fresh, sched.base_lrs, sched.lr_lambdas):
        g.update(f)
        g["lr"] = base * factor(sched.last_epoch)  # what LambdaLR.step computed for this step
    sched._last_lr = [g["lr"] for g in opt.param_groups]
    rngs = state["rng"]
    if len(rngs) == info.world_size:
        set_rng_state(rngs[info.rank])
    else:
        log.warning("checkpoint has RNG states for %d ranks, now %d: resuming with fresh RNG",
                    len(rngs), info.world_size)
    return state["step"], state["epoch"], state["position"]


# Called once by ``fit`` when everything is loaded and the first step is next (``when_training_starts``).
_start_hooks: list[Callable[[], None]] = []


@contextlib.contextmanager
def when_training_starts(hook: Callable[[], None]) -> Iterator[None]:
    """Run ``hook`` inside the next ``fit`` once its checkpoint (if any) is loaded, just before the first step:
    a run that fails while setting up (bad data, a corrupt checkpoint) never reaches it."""
    _start_hooks.append(hook)
    try:
        yield
    finally:
        if hook in _start_hooks:
            _start_hooks.remove(hook)


@contextlib.contextmanager
def _interrupt_at_step_end(enabled: bool) -> Iterator[Callable[[], bool]]:
    """The first Ctrl-C only raises a flag the loop checks between steps, so the checkpoint it then saves is a
    whole step; a second Ctrl-C interrupts at once. Off under DDP (ranks would stop at different steps) and
    outside the main thread (no signal handlers there)."""
    hit = []
    if not enabled or threading.current_thread() is not threading.main_thread():
        yield lambda: False
        return

    def handler(signum, frame):
        if hit:
            raise KeyboardInterrupt
        hit.append(signum)
        log.warning("Ctrl-C: stopping after this step (again to stop now)")

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield lambda: bool(hit)
    finally:
        signal.signal(signal.SIGINT, previous)


def _save(path: Path, module: nn.Module, opt, sched, step: int, stream: _BatchStream, info: DistInfo) -> None:
    rngs = [rng_state()]
    if info.distributed:
        rngs = [None] * info.world_size
        dist.all_gather_object(rngs, rng_state())
    if info.is_main:
        save_checkpoint(path, {"model": module.state_dict(), "optimizer": opt.state_dict(),
                               "scheduler": sched.state_dict(), "step": step, "epoch": stream.epoch,
                               "position": stream.position, "rng": rngs})
    if info.distributed:
        dist.barrier()


def plot_metrics(metrics_path: str | Path, png_path: str | Path, keys: tuple[str, ...] = ("loss",)) -> None:
    """Plot logged metrics against step to a PNG (atomic)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from edge_ssl.atomic import atomic_path

    rows = [json.loads(ln) for ln in Path(metrics_path).read_text().splitlines() if ln.strip()]
    fig, axes = plt.subplots(1, len(keys), figsize=(5 * len(keys), 3.5), squeeze=False)
    for ax, key in zip(axes[0], keys):
        pts = [(r["step"], r[key]) for r in rows if key in r and r[key] is not None and math.isfinite(r[key])]
        if pts:
            ax.plot(*zip(*pts))
        ax.set_xlabel("step")
        ax.set_title(key)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    with atomic_path(png_path) as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    plt.close(fig)
