"""Resuming a run whose config.yaml predates a config field: the new field at its default is not a change."""
import pytest
import yaml

from edge_ssl.config import ConfigError, save_config
from edge_ssl.recipes import finetune_ctc
from edge_ssl.recipes.runner import check_resume_config
from edge_ssl.training.loop import CHECKPOINT


def saved_run(tmp_path, drop: str) -> finetune_ctc.Config:
    """A run dir with a checkpoint and the config.yaml an older edge-ssl wrote (without the key ``drop``)."""
    cfg = finetune_ctc.Config(out_dir=str(tmp_path))
    save_config(cfg, tmp_path / "config.yaml")
    old = yaml.safe_load((tmp_path / "config.yaml").read_text())
    *parents, leaf = drop.split(".")
    node = old
    for k in parents:
        node = node[k]
    del node[leaf]
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(old))
    (tmp_path / CHECKPOINT).write_bytes(b"")
    return cfg


def test_a_field_added_since_at_its_default_is_no_change(tmp_path):
    cfg = saved_run(tmp_path, "model.encoder.normalize")
    check_resume_config(cfg, tmp_path)  # no error


def test_a_field_added_since_set_to_another_value_is_a_change(tmp_path):
    cfg = saved_run(tmp_path, "model.encoder.normalize")
    cfg.model.encoder.normalize = True
    with pytest.raises(ConfigError, match=r"model\.encoder\.normalize: False -> True"):
        check_resume_config(cfg, tmp_path)
