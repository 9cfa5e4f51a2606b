"""Resumable multi-stage pipelines (the demo): each stage runs once, records its outputs, and is skipped
on the next run when its record and outputs are still there.

A stage is a function ``fn(ctx) -> dict`` of JSON-able results (paths, metrics). Its record
``<root>/stages/<name>.json`` is written atomically only after the stage returns, so a killed stage reruns.
"""
from __future__ import annotations

import json
import logging
import resource
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from edge_ssl.errors import EdgeSSLError
from edge_ssl.atomic import atomic_write_text

log = logging.getLogger(__name__)


@dataclass
class Stage:
    name: str
    title: str                              # shown in progress lines
    fn: Callable[["Context"], dict]


class Results(dict):
    """stage name -> its returned dict; asking for a stage that has not finished is a clear error."""

    def __missing__(self, name: str) -> dict:
        raise EdgeSSLError(f"stage {name!r} has not finished here: run it first (it is needed by a later stage)")


@dataclass
class Context:
    root: Path                              # everything the pipeline writes lives under here
    options: dict[str, Any] = field(default_factory=dict)
    results: Results = field(default_factory=Results)

    def path(self, *parts: str) -> Path:
        return self.root.joinpath(*parts)


def _record_path(ctx: Context, stage: Stage) -> Path:
    return ctx.path("stages", f"{stage.name}.json")


def _outputs_exist(result: dict) -> bool:
    return all(Path(v).exists() for k, v in result.items() if k.endswith("_path") and isinstance(v, str))


def _cpu_seconds() -> float:
    """CPU time of this process (all threads) and its finished children (TTS engines, bench workers): on a
    shared machine wall time measures the neighbours too, CPU time mostly the stage's own work."""
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + kids.ru_utime + kids.ru_stime


def _finished(ctx: Context, stage: Stage) -> dict | None:
    rec = _record_path(ctx, stage)
    if rec.is_file():
        result = json.loads(rec.read_text())
        if _outputs_exist(result):
            return result
    return None


def run_stages(stages: list[Stage], ctx: Context, echo: Callable[[str], None] = print,
               force: tuple[str, ...] = (), only: tuple[str, ...] = ()) -> dict[str, dict]:
    """Run ``stages`` in order, reusing finished ones. With ``only``, the other stages do not run, but their
    finished records are loaded: a later stage reads its inputs from them. Returns every stage's results."""
    for i, stage in enumerate(stages, 1):
        rec = _record_path(ctx, stage)
        head = f"[{i}/{len(stages)}] {stage.title}"
        done = _finished(ctx, stage)
        if only and stage.name not in only:
            if done is not None:
                ctx.results[stage.name] = done
            continue
        if stage.name not in force and done is not None:
            ctx.results[stage.name] = done
            echo(f"{head}: reused ({done.get('seconds', 0):.0f} s when it ran)")
            continue
        echo(f"{head} ...")
        t0, c0 = time.time(), _cpu_seconds()
        result = dict(stage.fn(ctx))
        result["seconds"] = round(time.time() - t0, 1)
        result["cpu_seconds"] = round(_cpu_seconds() - c0, 1)
        ctx.results[stage.name] = result
        atomic_write_text(rec, json.dumps(result, indent=2))
        echo(f"{head}: done in {result['seconds']:.0f} s ({result['cpu_seconds']:.0f} CPU-s)")
    return ctx.results
