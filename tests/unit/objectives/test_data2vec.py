import math

import pytest
import torch

from edge_ssl.models.pretrain.data2vec import Data2VecObjective, Data2VecPretrainer
from edge_ssl.models.speech_encoder import tiny
from edge_ssl.objectives import data2vec as obj


def test_ema_decay_anneals_linearly_then_stays():
    assert obj.ema_decay(0) == 0.999
    assert math.isclose(obj.ema_decay(15_000), 0.99945)
    assert obj.ema_decay(30_000) == obj.ema_decay(400_000) == 0.9999


def test_instance_norm_ignores_padding():
    torch.manual_seed(0)
    x = torch.randn(1, 7, 3)
    padded = torch.cat([x, torch.full((1, 5, 3), 9.0)], dim=1)
    pad = torch.zeros(1, 12, dtype=torch.bool)
    pad[:, 7:] = True
    torch.testing.assert_close(obj.instance_norm_time(padded, pad)[:, :7], obj.instance_norm_time(x))
    y = obj.instance_norm_time(x)
    torch.testing.assert_close(y.mean(1), torch.zeros(1, 3), atol=1e-6, rtol=0)


def test_targets_average_the_top_k_normalised_layers():
    layers = [torch.randn(2, 9, 4) for _ in range(4)]
    t = obj.teacher_targets(layers, top_k=2)
    ref = (obj.instance_norm_time(layers[2]) + obj.instance_norm_time(layers[3])) / 2
    torch.testing.assert_close(t, ref)


def test_regression_loss_is_sum_over_channels_over_sqrt_c():
    pred, target = torch.zeros(3, 16), torch.ones(3, 16)
    assert math.isclose(obj.regression_loss(pred, target).item(), 16 / 4)
    assert obj.regression_loss(pred, target, beta=4.0) < obj.regression_loss(pred, target)


@pytest.mark.parametrize("pos_conv_depth", [1, 3])  # weight-normed conv (wav2vec 2.0 shape), data2vec's stack
def test_teacher_is_an_ema_of_the_layers_and_shares_the_positional_conv(pos_conv_depth):
    torch.manual_seed(0)
    m = Data2VecPretrainer(tiny(pos_conv_depth=pos_conv_depth), Data2VecObjective(top_k=2, ema_anneal_steps=10))
    assert not any(p.requires_grad for p in m.teacher.parameters())
    assert not hasattr(m.teacher, "feature_extractor")             # conv extractor is shared, not EMA'd
    m.train()
    assert not m.teacher.training                                   # no dropout/layerdrop in the teacher
    t0 = [p.clone() for p in m.teacher.parameters()]
    with torch.no_grad():
        for p in m.encoder.encoder.parameters():
            p.add_(1.0)
    m.on_update(5)
    tau = obj.ema_decay(5, 0.999, 0.9999, 10)
    pos = 0
    for (name, a), b, s in zip(m.teacher.named_parameters(), t0, m.encoder.encoder.parameters()):
        if name.startswith("pos_conv."):  # fairseq ema_layers_only: the student's own, not an average
            torch.testing.assert_close(a, s, rtol=0, atol=0)
            pos += 1
        else:
            torch.testing.assert_close(a, tau * b + (1 - tau) * s)
    assert pos > 0
    batch = {"wave": torch.randn(2, 8000), "lengths": torch.tensor([8000, 6000]), "indices": torch.tensor([0, 1])}
    loss, logs = m(batch)
    loss.backward()
    assert all(p.grad is None for p in m.teacher.parameters())
    assert m.encoder.feature_extractor.conv_layers[0].conv.weight.grad is not None
