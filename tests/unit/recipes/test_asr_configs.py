"""Every shipped fine-tuning / distillation config loads against its recipe's schema."""
from pathlib import Path

import pytest

from edge_ssl.config import load_config
from edge_ssl.recipes import distill, finetune_ctc
from edge_ssl.recipes.runner import CONFIG_ROOT

SCHEMAS = {"ctc": finetune_ctc.Config, "lowlabel": finetune_ctc.Config, "distill": distill.Config}
FILES = sorted(p for family in SCHEMAS for p in (CONFIG_ROOT / family).glob("*.yaml"))


@pytest.mark.parametrize("path", FILES, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_config_loads(path: Path):
    cfg = load_config(SCHEMAS[path.parent.name], path)
    assert cfg.out_dir and path.read_text().startswith("#")  # header comment: what, prerequisites, run command


def test_all_families_present():
    assert {p.parent.name for p in FILES} == set(SCHEMAS)
