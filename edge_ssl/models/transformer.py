"""Transformer encoder of the wav2vec 2.0 family: conv positional embedding + post-LN or pre-LN layers.
``positions="sinusoidal"`` adds Whisper's fixed position table instead of the positional conv.

Attention is ``scaled_dot_product_attention`` in training and eager inference alike. The exported graph
computes it as explicit ``bmm``s instead (``deploy/export_modules.py``): SDPA decomposes into boolean ops the
XNNPACK delegate leaves outside (shared/STACK.md, pitfall 2).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils import parametrize
from torch.nn.utils.parametrizations import weight_norm

from edge_ssl.models.norm import LayerNorm
from edge_ssl.models.whisper_frontend import sinusoids


class SelfAttention(nn.Module):
    def __init__(self, dim: int, heads: int, dropout: float):
        super().__init__()
        if dim % heads:
            raise ValueError(f"embed_dim {dim} is not divisible by num_heads {heads}")
        self.heads, self.head_dim, self.dropout = heads, dim // heads, dropout
        self.q_proj = nn.Linear(dim, dim)
        self.k_proj = nn.Linear(dim, dim)
        self.v_proj = nn.Linear(dim, dim)
        self.out_proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor, attn_bias: torch.Tensor | None = None) -> torch.Tensor:
        # x: (B, T, C); attn_bias: (B, 1, 1, T) additive float mask (large negative at padding) or None
        B, T, C = x.shape
        q = self.q_proj(x).view(B, T, self.heads, self.head_dim).transpose(1, 2)  # (B, H, T, D)
        k = self.k_proj(x).view(B, T, self.heads, self.head_dim).transpose(1, 2)
        v = self.v_proj(x).view(B, T, self.heads, self.head_dim).transpose(1, 2)
        p = self.dropout if self.training else 0.0
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_bias, dropout_p=p)  # (B, H, T, D)
        return self.out_proj(y.transpose(1, 2).reshape(B, T, C))


class FeedForward(nn.Module):
    def __init__(self, dim: int, hidden: int, dropout: float, activation_dropout: float):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, dim)
        self.act_drop = nn.Dropout(activation_dropout)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # (B, T, C) -> (B, T, C)
        return self.drop(self.fc2(self.act_drop(F.gelu(self.fc1(x)))))


class TransformerLayer(nn.Module):
    """One encoder layer. Post-LN (wav2vec 2.0 base, HuBERT base) or pre-LN (``layer_norm_first``, large)."""

    def __init__(self, dim: int, heads: int, ffn_dim: int, dropout: float, attention_dropout: float,
                 activation_dropout: float, layer_norm_first: bool, eps: float):
        super().__init__()
        self.attn = SelfAttention(dim, heads, attention_dropout)
        self.attn_norm = LayerNorm(dim, eps)
        self.ffn = FeedForward(dim, ffn_dim, dropout, activation_dropout)
        self.ffn_norm = LayerNorm(dim, eps)
        self.drop = nn.Dropout(dropout)
        self.layer_norm_first = layer_norm_first

    def forward(self, x: torch.Tensor, attn_bias: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """x: (B, T, C) -> (out (B, T, C), ffn_out (B, T, C)); ffn_out is data2vec's regression target."""
        if self.layer_norm_first:
            x = x + self.drop(self.attn(self.attn_norm(x), attn_bias))
            ffn = self.ffn(self.ffn_norm(x))
            return x + ffn, ffn
        x = self.attn_norm(x + self.drop(self.attn(x, attn_bias)))
        ffn = self.ffn(x)
        return self.ffn_norm(x + ffn), ffn


class PositionalConv(nn.Module):
    """Relative position information from a grouped conv over time. (B, T, C) -> (B, T, C).

    depth 1: wav2vec 2.0 / HuBERT (one weight-normed conv, kernel 128). depth > 1: data2vec audio (a stack
    of plain convs with a non-affine LayerNorm each, kernel 19).
    """

    def __init__(self, dim: int, kernel: int, groups: int, depth: int = 1, eps: float = 1e-5):
        super().__init__()
        self.depth = depth
        # fairseq pads k//2 on both sides and, for an even kernel, drops the extra last frame (SamePad).
        # Padding one less on the right is the same result without a slice of symbolic length.
        self.pad = (kernel // 2, kernel // 2 - (1 - kernel % 2))
        if depth == 1:
            conv = nn.Conv1d(dim, dim, kernel, groups=groups)
            # fairseq's init: normal(0, sqrt(4 / (k * C))), zero bias, then weight norm over the kernel dim
            nn.init.normal_(conv.weight, mean=0.0, std=(4.0 / (kernel * dim)) ** 0.5)
            nn.init.zeros_(conv.bias)
            self.conv = weight_norm(conv, name="weight", dim=2)
        else:
            self.convs = nn.ModuleList(nn.Conv1d(dim, dim, kernel, groups=groups) for _ in range(depth))
            self.norms = nn.ModuleList(LayerNorm(dim, eps, affine=False) for _ in range(depth))

    def forward(self, x: torch.Tensor, keep: torch.Tensor | None = None) -> torch.Tensor:
        # x: (B, T, C) with zeros at padding; keep: (B, C, T)-broadcastable float, 0 at padding, or None
        y = x.transpose(1, 2)  # (B, C, T)
        if self.depth == 1:
            return F.gelu(self.conv(F.pad(y, self.pad))).transpose(1, 2)
        for conv, norm in zip(self.convs, self.norms):
            y = conv(F.pad(y, self.pad))
            y = F.gelu(norm(y.transpose(1, 2)).transpose(1, 2))
            if keep is not None:  # re-zero padding so it cannot leak into the next conv
                y = y * keep
        return y.transpose(1, 2)

    def fold_weight_norm(self) -> None:
        """Bake the weight-norm parametrisation into a plain weight (for export and fast inference)."""
        if self.depth == 1 and parametrize.is_parametrized(self.conv, "weight"):
            parametrize.remove_parametrizations(self.conv, "weight", leave_parametrized=True)


class SinusoidalPositions(nn.Module):
    """Whisper's absolute positions: a fixed (max_positions, C) table added to the first T frames.

    A persistent buffer, not a parameter: Whisper never trains it, and the imported table (fp16-rounded in a
    CTranslate2 file) is loaded as saved rather than recomputed. (B, T, C) -> (B, T, C).
    """

    def __init__(self, dim: int, max_positions: int):
        super().__init__()
        self.max_positions = max_positions
        self.register_buffer("weight", sinusoids(max_positions, dim))  # (P, C)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[1] > self.max_positions:
            raise ValueError(f"{x.shape[1]} frames exceed the {self.max_positions} positions of this encoder "
                             f"(Whisper: 1500 frames = 30 s); split the audio")
        return x + self.weight[: x.shape[1]].to(x.dtype)  # (B, T, C)

    def compact(self, frames: int) -> None:
        """Keep only the first ``frames`` rows, in fp16 when that changes no value (an imported table is
        fp16-rounded already): for export, where the table is the largest constant outside the delegate
        (1500 x 384 fp32 = 2.3 MB for Whisper tiny) and rows past the longest accepted input are never read."""
        table = self.weight[:frames]
        half = table.half()
        self.weight = half if torch.equal(half.float(), table) else table.clone()
        self.max_positions = min(self.max_positions, frames)


class TransformerEncoder(nn.Module):
    def __init__(self, dim: int, num_layers: int, heads: int, ffn_dim: int, *, layer_norm_first: bool,
                 pos_conv_kernel: int, pos_conv_groups: int, pos_conv_depth: int, dropout: float,
                 attention_dropout: float, activation_dropout: float, layerdrop: float, eps: float,
                 positions: str = "conv", max_positions: int = 1500):
        super().__init__()
        if positions not in ("conv", "sinusoidal"):
            raise ValueError(f"positions must be conv or sinusoidal, got {positions!r}")
        # Exactly one of the two exists, so each model's state_dict keeps only its own tensors.
        self.pos_conv = (PositionalConv(dim, pos_conv_kernel, pos_conv_groups, pos_conv_depth, eps)
                         if positions == "conv" else None)
        self.positions = SinusoidalPositions(dim, max_positions) if positions == "sinusoidal" else None
        self.layer_norm = LayerNorm(dim, eps)
        self.drop = nn.Dropout(dropout)
        self.layers = nn.ModuleList(
            TransformerLayer(dim, heads, ffn_dim, dropout, attention_dropout, activation_dropout, layer_norm_first, eps)
            for _ in range(num_layers)
        )
        self.layer_norm_first, self.layerdrop = layer_norm_first, layerdrop

    def forward(self, x: torch.Tensor, pad_mask: torch.Tensor | None = None,
                num_layers: int | None = None) -> tuple[list[torch.Tensor], list[torch.Tensor | None]]:
        """x: (B, T, C); pad_mask: (B, T) bool, True at padding, or None.

        Returns ``hidden_states`` (num_layers + 1 tensors (B, T, C): the input to layer 1, then each layer's
        output; for pre-LN the final LayerNorm is applied to the last one, as in HF transformers) and
        ``ffn_states`` (each layer's FFN output before the residual add; None for a layer skipped by layerdrop).
        """
        attn_bias = keep = None
        if pad_mask is not None:
            keep = pad_mask.logical_not().to(x.dtype)[:, None, :]  # (B, 1, T)
            x = x.masked_fill(pad_mask.unsqueeze(-1), 0.0)  # padding must not leak through the pos conv
            attn_bias = torch.zeros(pad_mask.shape, dtype=x.dtype, device=x.device)
            attn_bias = attn_bias.masked_fill(pad_mask, torch.finfo(x.dtype).min)[:, None, None, :]  # (B,1,1,T)
        if self.pos_conv is not None:
            x = x + self.pos_conv(x, keep)
        else:
            x = self.positions(x)  # x + the table's first T rows
        if not self.layer_norm_first:
            x = self.layer_norm(x)
        x = self.drop(x)
        n = len(self.layers) if num_layers is None else num_layers
        hidden, ffns = [x], []
        for layer in self.layers[:n]:
            if self.training and self.layerdrop > 0 and torch.rand(()) < self.layerdrop:
                ffns.append(None)
            else:
                x, ffn = layer(x, attn_bias)
                ffns.append(ffn)
            hidden.append(x)
        if self.layer_norm_first and n == len(self.layers):
            hidden[-1] = self.layer_norm(x)
        return hidden, ffns
