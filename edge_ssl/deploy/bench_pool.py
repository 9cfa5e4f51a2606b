"""Long-lived benchmark workers (one process per participant) timed round-robin: A B C ... A B C ...

Running the rows one after another, minutes apart, let the load of a shared machine change between them:
the same ratio swung 0.64x-3.8x between runs (issue 17). Interleaved, every round times each participant
once within a few seconds, so a per-round ratio compares calls made under the same load.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from edge_ssl.errors import EdgeSSLError

# Idle time before each timed call: a runtime's pool threads may spin-wait for a while after their call
# (pthreadpool in XNNPACK, OpenMP in torch, ORT's intra-op pool) and would take the next participant's cores.
SETTLE_S = 0.05


class Worker:
    """One ``edge_ssl.deploy.bench_worker`` process, spoken to in JSON lines; its stderr goes to ``log``."""

    def __init__(self, name: str, args: list[str], log: Path):
        self.name, self.log = name, log
        self._err = open(log, "w")
        self.proc = subprocess.Popen([sys.executable, "-m", "edge_ssl.deploy.bench_worker", *args], text=True,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._err)
        self.hello: dict | None = None

    def ready(self) -> dict:
        """Wait until the model is loaded (workers are started first, then awaited: they load in parallel)."""
        if self.hello is None:
            self.hello = self._read()
        return self.hello

    def ask(self, **request) -> dict:
        self.ready()
        try:
            self.proc.stdin.write(json.dumps(request) + "\n")
            self.proc.stdin.flush()
        except BrokenPipeError:
            pass  # it died: _read reports why
        return self._read()

    def _read(self) -> dict:
        line = self.proc.stdout.readline()
        if not line:
            rc = self.proc.wait()
            self._err.flush()
            raise EdgeSSLError(f"benchmark worker {self.name} exited ({rc}); {self.log}:\n"
                               f"{self.log.read_text()[-2000:]}")
        return json.loads(line)

    def close(self) -> None:
        if self.proc.stdin and not self.proc.stdin.closed:
            try:
                self.proc.stdin.close()  # EOF: the worker returns
            except BrokenPipeError:
                pass
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._err.close()


@dataclass
class Interleaved:
    samples_ms: dict[str, list[float]]  # participant -> one timing per round, in round order
    timeline: list[dict]                # every timed call in the order made: round, name, start_s, ms
    memory: dict[str, dict]             # participant -> rss_base_mb, peak_rss_mb after all rounds
    load_avg: dict[str, list[float]]    # os.getloadavg() (1, 5, 15 min) "before" and "after" the rounds


def interleave(workers: dict[str, Worker], rounds: int, warmup: int, settle_s: float = SETTLE_S) -> Interleaved:
    """Warm each worker up (``warmup`` untimed calls), then ``rounds`` rounds of one timed call each, in the
    order of ``workers``, ``settle_s`` apart. ``start_s`` in the timeline is seconds since the first timed call."""
    for w in workers.values():
        w.ready()
    for w in workers.values():
        if warmup:
            w.ask(op="time", n=warmup)
    samples = {name: [] for name in workers}
    timeline = []
    before = list(os.getloadavg())
    for r in range(rounds):
        for name, w in workers.items():
            time.sleep(settle_s)
            rep = w.ask(op="time", n=1)
            samples[name].append(rep["ms"][0])
            timeline.append({"round": r, "name": name, "start_s": rep["start_s"], "ms": rep["ms"][0]})
    t0 = timeline[0]["start_s"] if timeline else 0.0
    for t in timeline:
        t["start_s"] -= t0
    load = {"before": before, "after": list(os.getloadavg())}
    return Interleaved(samples, timeline, {name: w.ask(op="memory") for name, w in workers.items()}, load)


def run_interleaved(specs: dict[str, list[str]], rounds: int, warmup: int, log_dir: Path) -> Interleaved:
    """Start one worker per ``specs`` entry (name -> bench_worker arguments), interleave them, stop them."""
    if rounds < 1:
        raise EdgeSSLError(f"reps must be >= 1 (got {rounds})")
    with ExitStack() as stack:
        workers = {}
        for name, args in specs.items():
            w = Worker(name, args, log_dir / f"worker_{name}.log")
            stack.callback(w.close)
            workers[name] = w
        return interleave(workers, rounds, warmup)
