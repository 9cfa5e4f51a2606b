import math

import pytest
import torch
import torch.nn.functional as F

from edge_ssl.methods.data2vec import Data2VecObjective, Data2VecPretrainer
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


# --- parity with data2vec (Baevski et al. 2022, Sec. 3.3; fairseq data2vec_audio.py), written as plain loops.

def reference_targets(layers, lengths, top_k, instance_norm=True, eps=1e-5):
    """Average of the top-K layers, each first normalised per utterance and channel over its real frames
    (biased variance, eps 1e-5, as F.instance_norm); frames past an utterance's length are left at 0.
    Real frames only is the library's documented choice: fairseq's F.instance_norm also counts padding."""
    B, T, C = layers[0].shape
    out = torch.zeros(B, T, C, dtype=torch.float64)
    for layer in layers[-top_k:]:
        for b in range(B):
            n = lengths[b]
            for c in range(C):
                xs = layer[b, :n, c].tolist()
                if instance_norm:
                    mean = sum(xs) / n
                    var = sum((x - mean) ** 2 for x in xs) / n
                    xs = [(x - mean) / math.sqrt(var + eps) for x in xs]
                for t in range(n):
                    out[b, t, c] += xs[t] / top_k
    return out


def reference_regression(pred, target, beta):
    """Per masked frame: sum over channels of the squared error (beta 0) or PyTorch's smooth-L1
    (0.5 d^2 / beta if |d| < beta else |d| - beta / 2), times 1/sqrt(C); mean over frames."""
    C = pred.shape[1]
    total = 0.0
    for p_row, t_row in zip(pred.tolist(), target.tolist()):
        frame = 0.0
        for p, t in zip(p_row, t_row):
            d = abs(p - t)
            frame += d * d if beta == 0 else (0.5 * d * d / beta if d < beta else d - 0.5 * beta)
        total += frame / math.sqrt(C)
    return total / len(pred)


@pytest.mark.parametrize("instance_norm", [True, False])
def test_targets_match_the_reference_with_padding(instance_norm):
    g = torch.Generator().manual_seed(0)
    layers = [torch.randn(2, 9, 4, generator=g) * (k + 1) + k for k in range(4)]
    lengths = [9, 6]
    pad = torch.arange(9)[None, :] >= torch.tensor(lengths)[:, None]           # (B, T) True at padding
    got = obj.teacher_targets(layers, top_k=3, pad_mask=pad, instance_norm=instance_norm)
    ref = reference_targets([x.double() for x in layers], lengths, 3, instance_norm)
    torch.testing.assert_close(got[~pad].double(), ref[~pad], rtol=1e-5, atol=1e-6)


def test_targets_without_padding_are_fairseqs_instance_norm():
    g = torch.Generator().manual_seed(1)
    layers = [torch.randn(3, 11, 5, generator=g) * 4 + 2 for _ in range(3)]
    ref = sum(F.instance_norm(x.transpose(1, 2)).transpose(1, 2) for x in layers[-2:]) / 2   # fairseq: on (B, C, T)
    torch.testing.assert_close(obj.teacher_targets(layers, top_k=2), ref, rtol=1e-5, atol=1e-6)


def test_targets_hand_case():
    # One channel over 3 frames, top-2 layers (1, 2, 3) and (5, 6, 7): mean 2 and 6, biased variance 2/3, so
    # both normalise to (-1, 0, 1) / sqrt(2/3 + 1e-5) = (-1.224736, 0, 1.224736), and so does their average.
    # (A scaled layer such as (2, 4, 6) would not: eps is not scale-free.) The bottom layer is not averaged.
    layers = [torch.tensor([9.0, -9.0, 0.0]), torch.tensor([1.0, 2.0, 3.0]), torch.tensor([5.0, 6.0, 7.0])]
    got = obj.teacher_targets([x.view(1, 3, 1) for x in layers], top_k=2).flatten().tolist()
    assert got == pytest.approx([-1.224736, 0.0, 1.224736], abs=1e-6)


@pytest.mark.parametrize("beta", [0.0, 0.25, 1.0])
def test_regression_loss_matches_the_reference(beta):
    g = torch.Generator().manual_seed(0)
    pred, target = torch.randn(13, 16, generator=g), torch.randn(13, 16, generator=g)
    ref = reference_regression(pred.double(), target.double(), beta)
    assert obj.regression_loss(pred, target, beta).item() == pytest.approx(ref, rel=1e-6)


def test_regression_hand_case():
    # One frame, C = 4, errors (1, 2, 0, 0.5); 1/sqrt(4) = 1/2.
    # L2: (1 + 4 + 0 + 0.25) / 2 = 2.625.
    # smooth-L1, beta 1: (1 - 0.5) + (2 - 0.5) + 0 + 0.5 * 0.25 / 1 = 2.125 -> / 2 = 1.0625.
    pred, target = torch.zeros(1, 4), torch.tensor([[1.0, 2.0, 0.0, 0.5]])
    assert obj.regression_loss(pred, target).item() == 2.625
    assert obj.regression_loss(pred, target, beta=1.0).item() == 1.0625
