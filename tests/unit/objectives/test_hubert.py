import math

import pytest
import torch

from edge_ssl.objectives import hubert as obj


def test_100hz_labels_on_a_50hz_encoder_take_every_second_label():
    labels = torch.arange(10)[None].repeat(2, 1)                     # (2, 10) at 100 Hz
    labels[1, 6:] = obj.IGNORE                                       # a shorter, padded utterance
    t = obj.frame_targets(labels, 6, label_rate=100, frame_rate=50)
    assert t[0].tolist() == [0, 2, 4, 6, 8, obj.IGNORE]              # frame 5 -> label 10: past the end
    assert t[1].tolist() == [0, 2, 4, obj.IGNORE, obj.IGNORE, obj.IGNORE]
    same = obj.frame_targets(labels, 6, label_rate=50, frame_rate=50)
    assert same[0].tolist() == [0, 1, 2, 3, 4, 5]


def test_cluster_logits_are_cosines_over_temperature():
    e = torch.eye(3)
    logits = obj.cluster_logits(torch.tensor([[2.0, 0.0, 0.0]]), e, logit_temp=0.1)
    torch.testing.assert_close(logits, torch.tensor([[10.0, 0.0, 0.0]]))


def test_loss_uses_masked_frames_only_with_weight_0():
    torch.manual_seed(0)
    logits = torch.randn(8, 5)
    targets = torch.randint(0, 5, (8,))
    masked = torch.tensor([1, 1, 1, 0, 0, 1, 0, 0], dtype=torch.bool)
    loss, parts = obj.masked_prediction_loss(logits, targets, masked)
    changed = logits.clone()
    changed[~masked] = torch.randn(4, 5) * 10
    assert torch.equal(loss, obj.masked_prediction_loss(changed, targets, masked)[0])
    ref = torch.nn.functional.cross_entropy(logits[masked], targets[masked])
    torch.testing.assert_close(loss, ref)
    with_u, _ = obj.masked_prediction_loss(logits, targets, masked, pred_nomask_weight=1.0)
    assert with_u > loss


# --- parity with fairseq's HuBERT (hubert.py ``compute_nce`` + hubert_criterion.py), written as plain loops:
# logits over [positive label embedding, all C label embeddings] with the target's own column -inf, CE at
# index 0; sum over frames of each weighted term, divided by fairseq's sample_size (the frame count of every
# term with a nonzero weight).

def _cos(a: list[float], b: list[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b))
    return dot / (math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b)))


def reference_hubert_loss(proj, label_embs, targets, masked, w_m, w_u, temp=0.1) -> float:
    embs = label_embs.tolist()
    sums, counts = {True: 0.0, False: 0.0}, {True: 0, False: 0}
    for x, y, m in zip(proj.tolist(), targets.tolist(), masked.tolist()):
        scores = [_cos(x, embs[y]) / temp] + [-math.inf if c == y else _cos(x, e) / temp for c, e in enumerate(embs)]
        sums[m] += -scores[0] + math.log(sum(math.exp(s) for s in scores))
        counts[m] += 1
    sample_size = counts[True] * (w_m > 0) + counts[False] * (w_u > 0)
    return (w_m * sums[True] + w_u * sums[False]) / sample_size


@pytest.mark.parametrize("w_m,w_u", [(1.0, 0.0), (1.0, 0.5), (0.0, 1.0)])
def test_masked_prediction_matches_fairseq(w_m, w_u):
    g = torch.Generator().manual_seed(0)
    N, C, D = 16, 6, 8
    proj, embs = torch.randn(N, D, generator=g), torch.rand(C, D, generator=g)
    targets = torch.randint(0, C, (N,), generator=g)
    masked = torch.rand(N, generator=g) < 0.6
    assert 0 < int(masked.sum()) < N
    loss, parts = obj.masked_prediction_loss(obj.cluster_logits(proj, embs), targets, masked, w_m, w_u)
    ref = reference_hubert_loss(proj.double(), embs.double(), targets, masked, w_m, w_u)
    assert loss.item() == pytest.approx(ref, rel=1e-6)
    if w_m > 0 and w_u == 0:
        assert parts["ce_masked"].item() == pytest.approx(ref, rel=1e-6)


def test_masked_prediction_hand_case():
    # Label embeddings e0 = (1, 0), e1 = (0, 1), temperature 0.1.
    # Masked frame x = (1, 1), label 0: cosines 1/sqrt2 to both -> equal logits -> CE = ln 2 = 0.693147.
    # Masked frame x = (1, 0), label 0: logits (10, 0) -> CE = log(1 + e^-10) = 4.53989e-5.
    # Unmasked frame x = (0, 1), label 0: logits (0, 10) -> CE = 10 + log(1 + e^-10) = 10.0000454.
    embs = torch.eye(2)
    proj = torch.tensor([[1.0, 1.0], [1.0, 0.0], [0.0, 1.0]])
    targets, masked = torch.tensor([0, 0, 0]), torch.tensor([True, True, False])
    logits = obj.cluster_logits(proj, embs)
    loss, _ = obj.masked_prediction_loss(logits, targets, masked)
    assert loss.item() == pytest.approx((0.693147 + 4.53989e-5) / 2, abs=1e-6)        # 0.346596
    # both terms weighted 1: fairseq divides by all 3 frames: (0.693147 + 4.54e-5 + 10.0000454) / 3 = 3.564413
    loss, _ = obj.masked_prediction_loss(logits, targets, masked, pred_nomask_weight=1.0)
    assert loss.item() == pytest.approx(3.564413, abs=1e-5)
