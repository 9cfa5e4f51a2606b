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
