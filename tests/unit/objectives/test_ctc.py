import math

import pytest
import torch

from edge_ssl.objectives.ctc import ctc_loss, pack_targets


def test_pack_targets():
    flat, lengths = pack_targets([[3, 4], [], [5]])
    assert flat.tolist() == [3, 4, 5] and lengths.tolist() == [2, 0, 1]


def test_matches_torch_per_utterance_mean():
    torch.manual_seed(0)
    logits = torch.randn(2, 12, 6)
    frames = torch.tensor([12, 9])
    targets = [[1, 2, 2, 3], [4, 5]]
    ref = sum(torch.nn.functional.ctc_loss(logits[b, :frames[b]].log_softmax(-1)[:, None],
                                           torch.tensor(targets[b]), frames[b:b + 1], torch.tensor([len(targets[b])]),
                                           reduction="sum") for b in range(2)) / 2
    torch.testing.assert_close(ctc_loss(logits, frames, targets), ref)


def test_padding_frames_are_ignored():
    torch.manual_seed(0)
    logits = torch.randn(1, 10, 5)
    padded = torch.cat([logits, torch.randn(1, 4, 5) * 50], dim=1)
    torch.testing.assert_close(ctc_loss(logits, None, [[1, 2]]), ctc_loss(padded, torch.tensor([10]), [[1, 2]]))


def test_unalignable_target_is_zero_not_inf():
    loss = ctc_loss(torch.randn(1, 3, 5, requires_grad=True), None, [[1, 2, 3, 4, 1, 2]])
    assert torch.isfinite(loss) and loss.item() == 0.0


def test_confident_correct_logits_give_small_loss():
    logits = torch.full((1, 5, 4), -10.0)
    for t, c in enumerate([1, 0, 2, 2, 0]):  # "a _ b b _" decodes to [1, 2]
        logits[0, t, c] = 10.0
    assert ctc_loss(logits, None, [[1, 2]]).item() < 1e-3
    assert ctc_loss(logits, None, [[2, 1]]).item() > 5


def test_batch_size_mismatch():
    with pytest.raises(ValueError):
        ctc_loss(torch.randn(2, 5, 4), None, [[1]])


# --- parity with the CTC forward algorithm (Graves et al. 2006, Sec. 4.1), written out: the alpha recursion
# over the blank-interleaved label sequence, in probability space (fine for these short sequences).

def reference_ctc_nll(log_probs: torch.Tensor, target: list[int], blank: int = 0) -> float:
    """log_probs (T, V) of one utterance -> -log sum over alignments that collapse to ``target``."""
    probs = log_probs.exp().tolist()
    ext = [blank]
    for y in target:
        ext += [y, blank]
    S = len(ext)
    alpha = [0.0] * S
    alpha[0] = probs[0][ext[0]]
    if S > 1:
        alpha[1] = probs[0][ext[1]]
    for t in range(1, len(probs)):
        prev = alpha
        alpha = [0.0] * S
        for s in range(S):
            a = prev[s] + (prev[s - 1] if s >= 1 else 0.0)
            if s >= 2 and ext[s] != blank and ext[s] != ext[s - 2]:  # skip a blank between different labels
                a += prev[s - 2]
            alpha[s] = a * probs[t][ext[s]]
    total = alpha[-1] + (alpha[-2] if S > 1 else 0.0)
    return -math.log(total)


def test_matches_the_forward_algorithm():
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(3, 10, 5, generator=g)
    frames = torch.tensor([10, 7, 9])
    targets = [[1, 2, 2, 3], [4], [3, 1, 3]]                       # repeats need a blank between them
    ref = sum(reference_ctc_nll(logits[b, :frames[b]].double().log_softmax(-1), targets[b]) for b in range(3)) / 3
    assert ctc_loss(logits, frames, targets).item() == pytest.approx(ref, rel=1e-6)


def test_ctc_hand_case():
    # Uniform logits over {blank, a}: every frame has p = 1/2.
    # T = 1, target "a": one alignment ("a"), p = 1/2 -> ln 2 = 0.693147.
    # T = 2, target "a": "aa", "a_", "_a" -> 3/4 -> -ln 0.75 = 0.287682.
    # T = 2, target "aa": needs "a_a" (3 frames) -> unalignable -> 0 (zero_infinity).
    assert ctc_loss(torch.zeros(1, 1, 2), None, [[1]]).item() == pytest.approx(0.693147, abs=1e-6)
    assert ctc_loss(torch.zeros(1, 2, 2), None, [[1]]).item() == pytest.approx(0.287682, abs=1e-6)
    assert ctc_loss(torch.zeros(1, 2, 2), None, [[1, 1]]).item() == 0.0
