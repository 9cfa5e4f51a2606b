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
