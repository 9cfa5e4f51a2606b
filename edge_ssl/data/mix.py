"""One training manifest from several: a seeded random share of each (e.g. all of the real speech and part of
a TTS corpus), so the mix is a file a recipe names, not code inside a training loop."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edge_ssl.data.manifest import ManifestError, Utterance, read_manifest, total_hours, write_manifest


@dataclass(frozen=True)
class MixPart:
    manifest: Path
    fraction: float = 1.0  # share of this manifest's utterances to take, in (0, 1]

    @classmethod
    def parse(cls, spec: str) -> "MixPart":
        """``PATH`` or ``PATH:FRACTION``."""
        path, sep, frac = spec.rpartition(":")
        if not sep or not frac.replace(".", "", 1).isdigit():
            return cls(Path(spec))
        fraction = float(frac)
        if not 0 < fraction <= 1:
            raise ManifestError(f"{spec}: the fraction after ':' must be in (0, 1], got {frac}")
        return cls(Path(path), fraction)


def mix_manifests(parts: list[MixPart], out: str | Path, seed: int = 0) -> dict[str, dict]:
    """Write ``out`` with each part's share (chosen by ``seed``, kept in manifest order); returns per-part
    clips and hours. An id in two parts is an error: the same clip twice would be weighted twice silently."""
    if not parts:
        raise ManifestError("mix needs at least one manifest")
    rng = np.random.default_rng(seed)
    mixed: list[Utterance] = []
    seen: dict[str, Path] = {}
    stats = {}
    for part in parts:
        utts = read_manifest(part.manifest)
        n = max(1, round(len(utts) * part.fraction))
        keep = sorted(rng.permutation(len(utts))[:n])
        taken = [utts[i] for i in keep]
        for u in taken:
            if u.id in seen:
                raise ManifestError(f"{part.manifest}: id {u.id!r} is also in {seen[u.id]}; ids must be unique "
                                    "across the mixed manifests")
            seen[u.id] = part.manifest
        mixed += taken
        stats[str(part.manifest)] = {"clips": len(taken), "of": len(utts), "hours": round(total_hours(taken), 3)}
    write_manifest(mixed, out)
    return stats
