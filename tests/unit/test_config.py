from dataclasses import dataclass, field

import pytest

from edge_ssl.config import ConfigError, load_config, save_config
from edge_ssl.models.speech_encoder import EncoderConfig


@dataclass
class Optim:
    lr: float = 5e-4
    betas: tuple[float, float] = (0.9, 0.98)


@dataclass
class Run:
    name: str = "x"
    steps: int = 10
    encoder: EncoderConfig = field(default_factory=EncoderConfig)
    optim: Optim = field(default_factory=Optim)


def test_yaml_then_overrides(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text("steps: 20\noptim:\n  lr: 1\nencoder:\n  num_layers: 2\n")
    cfg = load_config(Run, p, ["optim.betas=[0.8, 0.9]", "encoder.embed_dim=96", "name=abc"])
    assert cfg.steps == 20 and cfg.optim.lr == 1.0 and isinstance(cfg.optim.lr, float)
    assert cfg.optim.betas == (0.8, 0.9)
    assert cfg.encoder.num_layers == 2 and cfg.encoder.embed_dim == 96 and cfg.name == "abc"
    assert cfg.encoder.conv_layers[0] == (512, 10, 5)


def test_unknown_key_names_the_key_and_file(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text("optim:\n  lrr: 1\n")
    with pytest.raises(ConfigError, match=r"c.yaml.*optim\.lrr"):
        load_config(Run, p)
    with pytest.raises(ConfigError, match="encoder.nope"):
        load_config(Run, None, ["encoder.nope=3"])


def test_exponent_without_a_dot_is_a_float(tmp_path):
    # YAML 1.1 reads 5e-4 as a string; it is what users type on the command line and in YAML
    p = tmp_path / "c.yaml"
    p.write_text("optim:\n  lr: 5e-4\n")
    assert load_config(Run, p).optim.lr == 5e-4
    assert load_config(Run, None, ["optim.lr=2e-3"]).optim.lr == 2e-3
    with pytest.raises(ConfigError, match="optim.lr: expected float, got 'fast'"):
        load_config(Run, None, ["optim.lr=fast"])


def test_wrong_type_names_the_key():
    with pytest.raises(ConfigError, match="steps: expected int"):
        load_config(Run, None, ["steps=abc"])
    with pytest.raises(ConfigError, match="encoder.extractor_mode"):
        load_config(Run, None, ["encoder.extractor_mode=batch_norm"])
    with pytest.raises(ConfigError, match="num_heads"):
        load_config(Run, None, ["encoder.num_heads=5"])  # 768 % 5 != 0: validate() runs


def test_missing_file_and_bad_override():
    with pytest.raises(ConfigError, match="not found"):
        load_config(Run, "/nonexistent.yaml")
    with pytest.raises(ConfigError, match="key=value"):
        load_config(Run, None, ["steps"])


def test_resolved_config_round_trips(tmp_path):
    cfg = load_config(Run, None, ["steps=7", "encoder.num_layers=3"])
    save_config(cfg, tmp_path / "resolved.yaml")
    assert load_config(Run, tmp_path / "resolved.yaml") == cfg
