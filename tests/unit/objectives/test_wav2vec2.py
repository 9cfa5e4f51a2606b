import math

import numpy as np
import pytest
import torch

from edge_ssl.models.quantizer import GumbelQuantizer, gumbel_temperature
from edge_ssl.objectives import wav2vec2 as obj


def test_negatives_are_other_masked_frames_of_the_utterance_uniformly():
    idx = obj.sample_negatives(5, 4000, np.random.default_rng(0))
    assert idx.shape == (5, 4000)
    for i in range(5):
        counts = np.bincount(idx[i], minlength=5)
        assert counts[i] == 0                                  # never the positive itself
        others = np.delete(counts, i)
        assert (abs(others / 4000 - 0.25) < 0.03).all()         # uniform over the other 4


def test_contrastive_loss_is_low_when_context_matches_and_masks_duplicate_codes():
    torch.manual_seed(0)
    pos = torch.randn(6, 8)
    negs = torch.stack([pos[(torch.arange(6) + k) % 6] for k in (1, 2, 3)], dim=1)  # (6, 3, 8)
    good, acc = obj.contrastive_loss(obj.contrastive_logits(pos, pos, negs))
    bad, _ = obj.contrastive_loss(obj.contrastive_logits(-pos, pos, negs))
    assert good < 0.5 < bad and acc == 1.0
    negs[:, 0] = pos                                             # a distractor equal to the positive
    logits = obj.contrastive_logits(pos, pos, negs)
    assert torch.isinf(logits[:, 1]).all() and torch.isfinite(logits[:, 0]).all()


def test_diversity_loss_rewards_using_all_entries():
    q = GumbelQuantizer(4, dim=8, groups=2, entries=16)
    assert obj.diversity_loss(torch.tensor(32.0), q.num_codes) == 0
    assert obj.diversity_loss(torch.tensor(2.0), q.num_codes) > 0.9


def test_quantizer_straight_through_and_eval_argmax():
    torch.manual_seed(0)
    q = GumbelQuantizer(6, dim=8, groups=2, entries=5)
    x = torch.randn(10, 6)
    out = q(x, tau=2.0)
    assert out.codes.shape == (10, 8) and out.indices.shape == (10, 2)
    books = q.codebooks.view(2, 5, 4)
    expect = torch.cat([books[0, out.indices[:, 0]], books[1, out.indices[:, 1]]], dim=1)
    torch.testing.assert_close(out.codes, expect)                # forward: hard one-hot choice
    out.codes.sum().backward()
    assert q.weight_proj.weight.grad.abs().sum() > 0             # backward: through the softmax
    q.eval()
    ev = q(x, tau=2.0)
    assert (ev.indices == q.weight_proj(x).view(10, 2, 5).argmax(-1)).all()
    assert 1.0 <= ev.prob_perplexity <= 10.0


def test_gumbel_temperature_anneals_from_2_to_half():
    assert gumbel_temperature(0) == 2.0
    assert abs(gumbel_temperature(100_000) - 2.0 * 0.999995 ** 100_000) < 1e-9
    assert gumbel_temperature(400_000) == 0.5


# --- parity with the paper's formulas (Baevski et al. 2020, Eq. 3-4; fairseq's -inf for a negative equal to the
# positive), written as plain loops, independent of the library.

def _cos(a: list[float], b: list[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b))
    return dot / (math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b)))


def reference_infonce(context, positives, negatives, kappa) -> tuple[float, float]:
    """-log exp(sim(c, q) / kappa) / sum over {q} + distractors of exp(sim(c, q~) / kappa), mean over frames."""
    total, correct = 0.0, 0
    for c, q, negs in zip(context.tolist(), positives.tolist(), negatives.tolist()):
        pos = _cos(c, q) / kappa
        scores = [pos] + [-math.inf if n == q else _cos(c, n) / kappa for n in negs]
        total += -pos + math.log(sum(math.exp(s) for s in scores))
        correct += all(pos > s for s in scores[1:])
    return total / len(context), correct / len(context)


def test_contrastive_loss_matches_the_infonce_formula():
    g = torch.Generator().manual_seed(0)
    N, K, D = 12, 7, 16
    context, positives = torch.randn(N, D, generator=g), torch.randn(N, D, generator=g)
    idx = torch.from_numpy(obj.sample_negatives(N, K, np.random.default_rng(0)))
    negatives = positives[idx]                                                   # (N, K, D)
    negatives[:3, 2] = positives[:3]                                             # the positive's own code drawn
    ref_loss, ref_acc = reference_infonce(context.double(), positives.double(), negatives.double(), 0.1)
    loss, acc = obj.contrastive_loss(obj.contrastive_logits(context, positives, negatives, logit_temp=0.1))
    assert loss.item() == pytest.approx(ref_loss, rel=1e-6)
    assert acc.item() == pytest.approx(ref_acc)


def test_contrastive_hand_case():
    # c = q = (1, 0); distractors (0, 3) and (1, 0), kappa 0.5. Cosines 1 and 0; (1, 0) equals the positive,
    # so it is -inf (not a distractor). Logits [2, 0, -inf]: loss = log(e^2 + e^0) - 2 = log(1 + e^-2) = 0.126928
    c = torch.tensor([[1.0, 0.0]])
    negs = torch.tensor([[[0.0, 3.0], [1.0, 0.0]]])
    loss, acc = obj.contrastive_loss(obj.contrastive_logits(c, c, negs, logit_temp=0.5))
    assert loss.item() == pytest.approx(0.126928, abs=1e-6) and acc.item() == 1.0
    # a distractor pointing the same way as the positive but not equal to it stays: logits [2, 2], loss log 2
    loss, acc = obj.contrastive_loss(obj.contrastive_logits(c, c, torch.tensor([[[2.0, 0.0]]]), logit_temp=0.5))
    assert loss.item() == pytest.approx(math.log(2), abs=1e-6)


def reference_diversity(logits: torch.Tensor, groups: int, entries: int) -> float:
    """logits (N, G*V): per group, the softmax averaged over frames; perplexity exp(-sum p log(p + 1e-7))
    (fairseq's eps); L_d = (G*V - sum of group perplexities) / (G*V)."""
    rows = logits.tolist()
    perplexity = 0.0
    for g in range(groups):
        avg = [0.0] * entries
        for row in rows:
            z = row[g * entries:(g + 1) * entries]
            m = max(z)
            e = [math.exp(v - m) for v in z]
            for v in range(entries):
                avg[v] += e[v] / sum(e) / len(rows)
        perplexity += math.exp(-sum(p * math.log(p + 1e-7) for p in avg))
    return (groups * entries - perplexity) / (groups * entries)


@pytest.mark.parametrize("training", [True, False])  # the Gumbel noise must not enter the diversity term
def test_diversity_loss_matches_the_formula_on_quantizer_logits(training):
    torch.manual_seed(0)
    q = GumbelQuantizer(6, dim=8, groups=2, entries=5).train(training)
    x = torch.randn(20, 6)
    out = q(x, tau=2.0)
    ref = reference_diversity(q.weight_proj(x).double(), 2, 5)
    # L_d is a small difference of fp32 numbers of size G*V (here 10): compare to fp32 resolution there
    assert obj.diversity_loss(out.prob_perplexity, q.num_codes).item() == pytest.approx(ref, abs=1e-6)


def test_diversity_hand_case():
    # G = 2, V = 2, one frame. Group 0 logits (0, 0): p = (1/2, 1/2), perplexity 2. Group 1 logits (ln 3, 0):
    # p = (3/4, 1/4), entropy -(0.75 ln 0.75 + 0.25 ln 0.25) = 0.562335, perplexity 1.754765.
    # L_d = (4 - 3.754765) / 4 = 0.061309
    q = GumbelQuantizer(1, dim=2, groups=2, entries=2).eval()
    with torch.no_grad():
        q.weight_proj.weight.copy_(torch.tensor([[0.0], [0.0], [math.log(3)], [0.0]]))
        q.weight_proj.bias.zero_()
    out = q(torch.ones(1, 1), tau=1.0)
    assert obj.diversity_loss(out.prob_perplexity, q.num_codes).item() == pytest.approx(0.061309, abs=1e-6)
