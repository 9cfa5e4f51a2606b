import numpy as np
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
