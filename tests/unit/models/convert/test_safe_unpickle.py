"""The fairseq checkpoint unpickler: allow-listed names become inert stand-ins, anything else is refused."""
import argparse
import enum
import sys
import types

import numpy as np
import pytest
import torch

from edge_ssl.errors import EdgeSSLError
from edge_ssl.models.convert.safe_unpickle import Record, load_checkpoint, referenced_globals, to_python


def test_namespace_numpy_scalars_and_tensors(tmp_path):
    ckpt = {"args": argparse.Namespace(arch="hubert", encoder_layers=12, lr=[5e-4]),
            "extra_state": {"best": np.float64(3.25), "epoch": 7}, "model": {"w": torch.arange(4.0)}}
    torch.save(ckpt, tmp_path / "c.pt")
    assert {"argparse.Namespace", "numpy.dtype"} <= referenced_globals(tmp_path / "c.pt")
    loaded = load_checkpoint(tmp_path / "c.pt")
    assert isinstance(loaded["args"], Record)  # a stand-in, not argparse's class
    assert to_python(loaded["args"]) == {"arch": "hubert", "encoder_layers": 12, "lr": [5e-4]}
    assert torch.equal(loaded["model"]["w"], torch.arange(4.0))


def test_fairseq_enum_becomes_its_value(tmp_path, monkeypatch):
    """fairseq pickles its choice enums by value; the stand-in keeps the value, fairseq is never imported."""
    for name in ("fairseq", "fairseq.dataclass", "fairseq.dataclass.constants"):
        monkeypatch.setitem(sys.modules, name, types.ModuleType(name))
    Mode = enum.Enum("Mode", {"default": "default", "layer_norm": "layer_norm"}, module="fairseq.dataclass.constants")
    sys.modules["fairseq.dataclass.constants"].Mode = Mode
    torch.save({"cfg": {"model": {"extractor_mode": Mode.layer_norm}}}, tmp_path / "e.pt")
    monkeypatch.delitem(sys.modules, "fairseq.dataclass.constants")
    cfg = to_python(load_checkpoint(tmp_path / "e.pt")["cfg"])
    assert cfg == {"model": {"extractor_mode": "layer_norm"}}


def test_protocol_4_pickle_is_refused(tmp_path):
    torch.save({"args": argparse.Namespace(a=1)}, tmp_path / "p4.pt", pickle_protocol=4)
    with pytest.raises(EdgeSSLError, match="p4.pt.*STACK_GLOBAL"):
        load_checkpoint(tmp_path / "p4.pt")


def test_unlisted_class_is_named(tmp_path):
    torch.save({"cfg": {"when": __import__("datetime").date(2021, 6, 1)}}, tmp_path / "d.pt")
    with pytest.raises(EdgeSSLError, match="datetime.date"):
        load_checkpoint(tmp_path / "d.pt")
