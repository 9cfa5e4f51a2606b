"""Export-time module swaps: the model's layers rewritten into ops the XNNPACK delegate takes whole.

The model files hold one implementation per layer, used in training and eager inference. What an exported
graph needs differs (shared/STACK.md, pitfall 2): ``native_layer_norm``/``native_group_norm`` and SDPA's
boolean ops stay on the CPU fallback and split the graph into many partitions; XNNPACK takes a mean only as
a keepdim mean over dims (2, 3) of a 4-D tensor; reshapes may infer only the time dim (-1), never a
symbolic size (else export adds guards). ``for_export(model)`` returns a copy whose layers compute the same
function in that form; each swap is tested for equality with the layer it replaces.

    LayerNorm      (B, T, C) rows viewed as (B*T, 1, C, 1), statistics by 4-D means
    TimeNorm       (B, C, T) viewed as (B, C, T, 1), statistics by 4-D means (unpadded input)
    SelfAttention  batch 1, no mask: 3-D ``bmm`` over heads; otherwise an explicit softmax(q k^T) v
    ViT            the cls token broadcast against a slice of the tokens instead of ``expand``
    ConvFeatureExtractor  (.pte only) raw-wave convs, unpadded batch: one 4-D (B, C, T, 1) tensor through every conv,
                   norm and GELU (conv2d with (k, 1) kernels), so XNNPACK keeps it in NHWC end to end
"""
from __future__ import annotations

import copy

import torch
from torch import nn

from edge_ssl.models.conv_extractor import ConvFeatureExtractor
from edge_ssl.models.norm import LayerNorm, TimeNorm, normalize_4d, normalize_utterance
from edge_ssl.models.transformer import SelfAttention
from edge_ssl.models.vit import ViT


class ExportLayerNorm(LayerNorm):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 3:
            return super().forward(x)
        # Rows as (B*T, 1, C, 1): statistics over C; no stride depends on T (else export adds guards).
        y = normalize_4d(x.reshape(-1, 1, self.dim, 1), self.eps).view(x.shape[0], -1, self.dim)  # (B, T, C)
        if self.weight is not None:
            y = y * self.weight + self.bias
        return y


class ExportTimeNorm(TimeNorm):
    def forward(self, x: torch.Tensor, valid: torch.Tensor | None = None) -> torch.Tensor:
        # x: (B, C, T); valid: (B, 1, T) or None
        if valid is not None:
            return super().forward(x, valid)
        y = normalize_4d(x.unsqueeze(-1), self.eps)  # (B, C, T, 1), statistics over T
        y = y * self.weight[:, None, None] + self.bias[:, None, None]
        return y.view(x.shape[0], self.dim, -1)  # (B, C, T)


class ExportSelfAttention(SelfAttention):
    def forward(self, x: torch.Tensor, attn_bias: torch.Tensor | None = None) -> torch.Tensor:
        # x: (B, T, C); attn_bias: (B, 1, 1, T) additive float mask or None
        B, T, C = x.shape
        if B == 1 and attn_bias is None:
            return self._forward_single(x)
        q = self.q_proj(x).view(B, T, self.heads, self.head_dim).transpose(1, 2)  # (B, H, T, D)
        k = self.k_proj(x).view(B, T, self.heads, self.head_dim).transpose(1, 2)
        v = self.v_proj(x).view(B, T, self.heads, self.head_dim).transpose(1, 2)
        scores = (q * self.head_dim**-0.5) @ k.transpose(-1, -2)  # (B, H, T, T)
        if attn_bias is not None:
            scores = scores + attn_bias
        y = scores.softmax(dim=-1) @ v  # (B, H, T, D)
        return self.out_proj(y.transpose(1, 2).reshape(B, T, C))

    def _forward_single(self, x: torch.Tensor) -> torch.Tensor:
        """One unpadded utterance (the on-device case): 3-D ``bmm`` over heads, reshapes that infer only
        the time dim (-1), so XNNPACK takes every op; 4-D matmul would add expand/symbolic views."""
        H, D, C = self.heads, self.head_dim, self.heads * self.head_dim
        x = x.view(-1, C)  # (T, C)
        q = self.q_proj(x).view(-1, H, D).permute(1, 0, 2)  # (H, T, D)
        k = self.k_proj(x).view(-1, H, D).permute(1, 2, 0)  # (H, D, T)
        v = self.v_proj(x).view(-1, H, D).permute(1, 0, 2)  # (H, T, D)
        p = torch.bmm(q * D**-0.5, k).softmax(dim=-1)  # (H, T, T)
        y = torch.bmm(p, v).permute(1, 0, 2).contiguous().view(-1, C)  # (T, C)
        return self.out_proj(y).view(1, -1, C)  # (1, T, C)


class ChannelNorm4d(nn.Module):
    """``TimeNorm`` of an unpadded (B, C, T, 1) input, its affine held as (1, C, 1, 1) views of the same
    parameters: indexing a parameter inside the graph became an NCHW-only reshape that made XNNPACK transpose
    the activation around it. Scale and rsqrt are folded first, so the activation is touched once for both."""

    def __init__(self, norm: TimeNorm):
        super().__init__()
        self.eps = norm.eps
        self.weight = nn.Parameter(norm.weight.detach().view(1, -1, 1, 1), requires_grad=False)
        self.bias = nn.Parameter(norm.bias.detach().view(1, -1, 1, 1), requires_grad=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # x: (B, C, T, 1), statistics over T
        xc = x - x.mean(dim=(2, 3), keepdim=True)
        var = (xc * xc).mean(dim=(2, 3), keepdim=True)  # (B, C, 1, 1)
        return xc * (torch.rsqrt(var + self.eps) * self.weight) + self.bias


class ExportConvFeatureExtractor(ConvFeatureExtractor):
    """Raw-wave conv stacks without per-layer LayerNorm take one 4-D (B, C, T, 1) tensor from the wave to
    the last conv: conv1d is lowered as unsqueeze -> conv2d -> squeeze, and each 3-D view between a conv and
    its norm made XNNPACK transpose the whole activation NHWC <-> NCHW (~10% of a DistilHuBERT-shape .pte's
    time on 10 s of audio, ETDump). ``adopt`` makes each conv a (k, 1) ``Conv2d`` over a view of the same
    weights (an op on a parameter inside the graph would keep the conv out of the delegate) and each
    ``TimeNorm`` a ``ChannelNorm4d``; module paths stay, so quantization filters by path still apply."""

    def adopt(self) -> None:
        self.as_4d = self.logmel is None and self.mode != "layer_norm"
        if not self.as_4d:
            return
        for block in self.conv_layers:
            c = block.conv
            conv = nn.Conv2d(c.in_channels, c.out_channels, (block.kernel, 1), stride=(block.stride, 1),
                             padding=(block.padding, 0), bias=c.bias is not None)
            conv.weight = nn.Parameter(c.weight.detach().unsqueeze(-1), requires_grad=False)  # a view: same values
            if c.bias is not None:
                conv.bias = c.bias
            block.conv = conv
            if block.norm_kind == "time":
                block.norm = ChannelNorm4d(block.norm)

    def forward(self, wave: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        # wave: (B, S) -> (B, T, C)
        if not self.as_4d:
            return super().forward(wave, lengths)
        if lengths is not None:
            raise ValueError("the export form of the conv front-end takes unpadded input (lengths=None)")
        if self.normalize_eps is not None:
            wave = normalize_utterance(wave, None, self.normalize_eps)
        x = wave.reshape(wave.shape[0], 1, -1, 1)  # (B, 1, S, 1)
        for block in self.conv_layers:
            x = block.conv(x)  # (B, C, T', 1)
            if block.norm_kind == "time":
                x = block.norm(x)
            x = block.act(x)
        return x.reshape(x.shape[0], self.out_dim, -1).transpose(1, 2).contiguous()  # (B, T, C)


class ExportViT(ViT):
    def prepend_cls(self, x: torch.Tensor) -> torch.Tensor:
        # cls for every sample by broadcasting against a slice of x: XNNPACK takes add/slice, not ``expand``
        cls = self.cls_token + self.pos_embed[:, :1]  # (1, 1, D)
        return torch.cat([x[:, :1] * 0.0 + cls, x], dim=1)  # (B, 1 + K, D)


# model layer -> its export form; each overrides ``forward`` (and may ``adopt`` its parameters' layout).
SWAPS: dict[type[nn.Module], type[nn.Module]] = {
    LayerNorm: ExportLayerNorm, TimeNorm: ExportTimeNorm, SelfAttention: ExportSelfAttention, ViT: ExportViT}
# XNNPACK only: ONNX Runtime runs the (k, 1) Conv2d front-end ~8x slower than the Conv1d stack it replaces
# (the demo student's .onnx p50: 106.7 ms with it vs 12.9 ms without, 10 s of audio).
XNNPACK_SWAPS: dict[type[nn.Module], type[nn.Module]] = {ConvFeatureExtractor: ExportConvFeatureExtractor}


def for_export(model: nn.Module, backend: str = "xnnpack") -> nn.Module:
    """A copy of ``model`` in eval mode with every swappable layer in its export form for ``backend``
    ("xnnpack" for .pte, "onnx"): same parameter values, same function; ``model`` itself is left as it is."""
    if backend not in ("xnnpack", "onnx"):
        raise ValueError(f"backend must be xnnpack or onnx, got {backend!r}")
    swaps = {**SWAPS, **XNNPACK_SWAPS} if backend == "xnnpack" else SWAPS
    exported = copy.deepcopy(model).eval()
    for module in exported.modules():
        swap = swaps.get(type(module))
        if swap is not None:
            module.__class__ = swap  # a subclass that overrides forward: the state stays as it is
            if hasattr(module, "adopt"):
                module.adopt()  # a layout change of its own parameters (same values)
    return exported
