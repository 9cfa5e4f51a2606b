"""Every recipe YAML under edge_ssl/recipes/configs loads against its recipe's schema (unknown keys, wrong types and
failed validations are errors), and the paper-scale pretraining configs keep the papers' numbers."""
from pathlib import Path

import importlib
import pytest

from edge_ssl.config import load_config
from edge_ssl.recipes.runner import CONFIG_ROOT

# config family folder -> recipe module under edge_ssl.recipes
FAMILIES = {"wav2vec2": "pretrain_wav2vec2", "hubert": "pretrain_hubert", "data2vec": "pretrain_data2vec",
            "mae": "pretrain_mae", "ctc": "finetune_ctc", "distill": "distill", "lowlabel": "finetune_ctc",
            "simclr": "pretrain_simclr"}
YAMLS = sorted(CONFIG_ROOT.glob("*/*.yaml"))


def load(path: Path):
    recipe = importlib.import_module(f"edge_ssl.recipes.{FAMILIES[path.parent.name]}")
    return load_config(recipe.Config, path)


@pytest.mark.parametrize("path", YAMLS, ids=[f"{p.parent.name}/{p.name}" for p in YAMLS])
def test_every_config_loads_against_its_schema(path):
    assert path.parent.name in FAMILIES, f"{path}: no recipe registered for folder {path.parent.name!r}"
    cfg = load(path)
    assert cfg.out_dir and cfg.train.max_steps > 0
    assert path.read_text().startswith("#"), f"{path}: must start with a header comment"


def test_paper_scale_pretraining_configs():
    w = load(CONFIG_ROOT / "wav2vec2" / "base.yaml")
    assert (w.encoder.num_layers, w.encoder.embed_dim, w.data.max_batch_samples, w.train.max_steps) == \
        (12, 768, 1_400_000, 400_000)
    o = w.objective
    assert (o.codebook_groups, o.codebook_entries, o.num_negatives, o.logit_temp, o.mask.mask_prob) == \
        (2, 320, 100, 0.1, 0.65)
    assert (o.temp_start, o.temp_end, o.temp_decay, o.diversity_weight, o.feature_pen_weight) == \
        (2.0, 0.5, 0.999995, 0.1, 10.0)
    h1, h2 = load(CONFIG_ROOT / "hubert" / "base_iter1.yaml"), load(CONFIG_ROOT / "hubert" / "base_iter2.yaml")
    assert (h1.objective.num_classes, h1.objective.label_rate, h1.train.max_steps) == (100, 100.0, 250_000)
    assert (h2.objective.num_classes, h2.objective.label_rate, h2.train.max_steps) == (500, 50.0, 400_000)
    assert h1.objective.mask.mask_prob == 0.8 and h1.objective.pred_nomask_weight == 0.0
    d = load(CONFIG_ROOT / "data2vec" / "base.yaml")
    assert (d.data.max_batch_samples, d.train.max_steps, d.objective.top_k) == (3_800_000, 400_000, 8)
    assert (d.objective.ema_start, d.objective.ema_end, d.objective.ema_anneal_steps) == (0.999, 0.9999, 30_000)
    assert d.encoder.extractor_mode == "layer_norm" and d.encoder.pos_conv_depth == 5


def test_bad_key_names_the_key(tmp_path):
    from edge_ssl.config import ConfigError

    bad = tmp_path / "bad.yaml"
    bad.write_text("objective:\n  num_negativs: 100\n")
    with pytest.raises(ConfigError, match="objective.num_negativs"):
        load_config(importlib.import_module("edge_ssl.recipes.pretrain_wav2vec2").Config, bad)
