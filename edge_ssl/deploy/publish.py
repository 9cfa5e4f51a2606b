"""Publish an artifact together with its sidecars (``tokens.txt``, ``<artifact>.golden/``) as one unit.

Renaming several paths cannot be one atomic step, so export stages the whole set in ``.<name>.staging/``
beside the artifact, verifies it there, and then publishes with a journal:

1. ``READY`` is written into the staging folder: the staged set is complete and verified;
2. the sidecars are renamed into place (the old golden folder is first moved into the staging folder);
3. the artifact is renamed into place;
4. the staging folder is removed.

A kill before 1 leaves the published set untouched and an unfinished staging folder, which the next export
deletes. A kill after 1 leaves ``READY``: ``recover`` (run by the next export and by
``verify``) finishes the renames still to do, so the artifact and its sidecars always end up from the same
export. In between, the golden index names the artifact's sha256, so vectors that do not belong to the
artifact beside them are reported (``golden.read_golden``), never verified against.
"""
from __future__ import annotations

import contextlib
import logging
import os
import shutil
from pathlib import Path
from typing import Iterator

from edge_ssl.deploy.golden import golden_dir

log = logging.getLogger(__name__)

READY = "READY"
TOKENS = "tokens.txt"


def staging_dir(artifact: str | Path) -> Path:
    artifact = Path(artifact)
    return artifact.with_name(f".{artifact.name}.staging")


@contextlib.contextmanager
def staged_publish(artifact: str | Path) -> Iterator[Path]:
    """Yield the path to write ``artifact`` at, in an empty staging folder (after finishing or discarding an
    interrupted publish); sidecars go beside it. Published when the block succeeds, discarded if it raises."""
    artifact = Path(artifact)
    recover(artifact, discard_unfinished=True)
    staging = staging_dir(artifact)
    staging.mkdir(parents=True)
    try:
        yield staging / artifact.name
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    publish(artifact)


def publish(artifact: str | Path) -> Path:
    """Move the staged set of ``artifact`` into place (steps 1-4 above)."""
    staging = staging_dir(artifact)
    with open(staging / READY, "w") as f:
        os.fsync(f.fileno())
    _sync_dir(staging)
    return _finish(Path(artifact), staging)


def recover(artifact: str | Path, discard_unfinished: bool = False) -> None:
    """Finish an interrupted publish of ``artifact`` (``READY`` staged). ``discard_unfinished``: also delete a
    staging folder without ``READY`` (only the next export may: it could be an export still running)."""
    artifact, staging = Path(artifact), staging_dir(artifact)
    if not staging.is_dir():
        return
    if (staging / READY).exists():
        log.warning("%s: finishing an interrupted publish (the artifact and its sidecars change together)", artifact)
        _finish(artifact, staging)
    elif discard_unfinished:
        shutil.rmtree(staging)


def _finish(artifact: Path, staging: Path) -> Path:
    staged, final_golden = staging / artifact.name, golden_dir(artifact)
    staged_golden, old_golden = golden_dir(staged), staging / "old.golden"
    if staged_golden.is_dir():
        if final_golden.exists():  # (after a kill here, recover finds it gone and the new one still staged)
            os.replace(final_golden, old_golden)
        os.replace(staged_golden, final_golden)
    if (staging / TOKENS).exists():
        os.replace(staging / TOKENS, artifact.with_name(TOKENS))
    if staged.exists():
        os.replace(staged, artifact)  # last: an artifact in place means its sidecars are too
    _sync_dir(artifact.parent)
    shutil.rmtree(staging)
    return artifact


def _sync_dir(folder: Path) -> None:
    """fsync a folder so the renames in it survive a power cut, not only a killed process."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
