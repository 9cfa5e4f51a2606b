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
"""
from __future__ import annotations

import copy

import torch
from torch import nn

from edge_ssl.models.norm import LayerNorm, TimeNorm, normalize_4d
from edge_ssl.models.transformer import SelfAttention


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


# model layer -> its export form; each export form only overrides ``forward``, so it shares the state.
SWAPS: dict[type[nn.Module], type[nn.Module]] = {
    LayerNorm: ExportLayerNorm, TimeNorm: ExportTimeNorm, SelfAttention: ExportSelfAttention}


def for_export(model: nn.Module) -> nn.Module:
    """A copy of ``model`` in eval mode with every swappable layer in its export form (same parameters,
    same function); ``model`` itself is left as it is."""
    exported = copy.deepcopy(model).eval()
    for module in exported.modules():
        swap = SWAPS.get(type(module))
        if swap is not None:
            module.__class__ = swap  # a subclass that only overrides forward: the state stays as it is
    return exported
