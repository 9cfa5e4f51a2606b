"""The conv-feature penalty that wav2vec 2.0 and HuBERT both add to their loss (fairseq ``features_pen``,
weight 10 in both base configs): an L2 penalty on the last conv layer's activations, added in wav2vec 2.0
to stabilise training. Shared here so that neither method imports the other's objective."""
from __future__ import annotations

import torch


def feature_penalty(conv_features: torch.Tensor) -> torch.Tensor:
    """(B, T, C) conv extractor output, before the feature LayerNorm -> () mean squared activation, in fp32."""
    return conv_features.float().pow(2).mean()
