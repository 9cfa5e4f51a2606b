import torch

from edge_ssl.objectives.penalties import feature_penalty


def test_feature_penalty_is_the_mean_squared_activation():
    torch.manual_seed(0)
    x = torch.randn(2, 7, 5, dtype=torch.float64)
    ref = 0.0
    for v in x.flatten().tolist():
        ref += v * v
    ref /= x.numel()
    torch.testing.assert_close(feature_penalty(x), torch.tensor(ref, dtype=torch.float32), rtol=1e-6, atol=0)


def test_feature_penalty_hand_case_and_fp32():
    x = torch.tensor([[[1.0, 2.0], [3.0, 4.0]]], dtype=torch.bfloat16)  # (1, 2, 2)
    pen = feature_penalty(x)
    assert pen.dtype == torch.float32 and pen.item() == 7.5               # (1 + 4 + 9 + 16) / 4
