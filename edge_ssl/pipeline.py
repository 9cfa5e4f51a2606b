"""Resumable multi-stage pipelines (the demo): each stage runs once, records its outputs, and is skipped
on the next run when its record and outputs are still there.

A stage is a function ``fn(ctx) -> dict`` of JSON-able results (paths, metrics). Its record
``<root>/stages/<name>.json`` is written atomically only after the stage returns, so a killed stage reruns.
"""
from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from edge_ssl.io import atomic_write_text

log = logging.getLogger(__name__)


@dataclass
class Stage:
    name: str
    title: str                              # shown in progress lines
    fn: Callable[["Context"], dict]


@dataclass
class Context:
    root: Path                              # everything the pipeline writes lives under here
    options: dict[str, Any] = field(default_factory=dict)
    results: dict[str, dict] = field(default_factory=dict)  # stage name -> its returned dict

    def path(self, *parts: str) -> Path:
        return self.root.joinpath(*parts)


def _record_path(ctx: Context, stage: Stage) -> Path:
    return ctx.path("stages", f"{stage.name}.json")


def _outputs_exist(result: dict) -> bool:
    return all(Path(v).exists() for k, v in result.items() if k.endswith("_path") and isinstance(v, str))


def run_stages(stages: list[Stage], ctx: Context, echo: Callable[[str], None] = print,
               force: tuple[str, ...] = ()) -> dict[str, dict]:
    """Run ``stages`` in order, reusing finished ones. Returns every stage's results."""
    for i, stage in enumerate(stages, 1):
        rec = _record_path(ctx, stage)
        head = f"[{i}/{len(stages)}] {stage.title}"
        if stage.name not in force and rec.is_file():
            result = json.loads(rec.read_text())
            if _outputs_exist(result):
                ctx.results[stage.name] = result
                echo(f"{head}: reused ({result.get('seconds', 0):.0f} s when it ran)")
                continue
        echo(f"{head} ...")
        t0 = time.time()
        result = dict(stage.fn(ctx))
        result["seconds"] = round(time.time() - t0, 1)
        ctx.results[stage.name] = result
        atomic_write_text(rec, json.dumps(result, indent=2))
        echo(f"{head}: done in {result['seconds']:.0f} s")
    return ctx.results
