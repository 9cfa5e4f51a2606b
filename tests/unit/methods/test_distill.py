import pytest
import torch

from edge_ssl.errors import EdgeSSLError
from edge_ssl.models.distiller import Distiller, PredictionHeads, StudentConfig
from edge_ssl.models.speech_encoder import SpeechEncoder, tiny
from edge_ssl.models.store import save_model
from edge_ssl.methods.distill import DistillModule
from edge_ssl.recipes.distill import encoder_cost, load_teacher


def teacher_cfg():
    return tiny(num_layers=4)


def test_student_copies_conv_and_first_layers():
    teacher = SpeechEncoder(teacher_cfg())
    d = Distiller(teacher_cfg(), StudentConfig(target_layers=[2, 4]))
    copied = d.init_from_teacher(teacher)
    assert any(k.startswith("feature_extractor.conv_layers.0") for k in copied)
    torch.testing.assert_close(d.student.encoder.layers[1].ffn.fc2.weight, teacher.encoder.layers[1].ffn.fc2.weight)
    assert len(d.student.encoder.layers) == 2 and d.student.cfg.layerdrop == 0.0


def test_narrow_conv_student_keeps_its_own_conv_init():
    narrow = [(32, 10, 5)] + [(32, 3, 2)] * 4 + [(32, 2, 2)] * 2
    teacher = SpeechEncoder(teacher_cfg())
    d = Distiller(teacher_cfg(), StudentConfig(target_layers=[2, 4], conv_layers=narrow))
    copied = d.init_from_teacher(teacher)
    assert not any(k.startswith("feature_extractor") for k in copied)
    assert any(k.startswith("encoder.layers.0") for k in copied)
    assert encoder_cost(d.student)["gflops_per_s"] < encoder_cost(teacher)["gflops_per_s"]


@pytest.mark.parametrize("design", ["shared", "separate"])
def test_heads_shape(design):
    h = PredictionHeads(16, 24, 3, design)
    assert h(torch.randn(2, 5, 16)).shape == (2, 3, 5, 24)


def test_module_trains_student_only_and_teacher_stays_eval(tmp_path):
    torch.manual_seed(0)
    save_model(SpeechEncoder(teacher_cfg()), tmp_path / "t.safetensors", "speech_encoder", teacher_cfg())
    teacher = load_teacher(str(tmp_path / "t.safetensors"))
    d = Distiller(teacher.cfg, StudentConfig(target_layers=[1, 3]))
    module = DistillModule(teacher, d, 1.0).train()
    assert not teacher.training and d.training
    loss, logs = module({"wave": torch.randn(2, 8000), "lengths": torch.tensor([8000, 5000])})
    loss.backward()
    assert set(logs) == {"l1_layer1", "l1_layer3", "cos_layer1", "cos_layer3"}
    assert all(p.grad is None for p in teacher.parameters())
    assert d.heads.weight.grad is not None and d.student.feature_extractor.conv_layers[0].conv.weight.grad is not None


def test_bad_teacher_and_targets(tmp_path):
    save_model(SpeechEncoder(tiny(num_layers=3)), tmp_path / "bad.safetensors", "speech_encoder", teacher_cfg())
    with pytest.raises(EdgeSSLError, match=r"missing .*layers\.3"):
        load_teacher(str(tmp_path / "bad.safetensors"))
    with pytest.raises(ValueError, match="exceed"):
        Distiller(teacher_cfg(), StudentConfig(target_layers=[4, 8, 12]))
