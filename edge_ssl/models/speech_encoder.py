"""The speech encoder of the wav2vec 2.0 / HuBERT / data2vec family, composed of named parts:

    wave (B, S) -> feature_extractor -> (B, T, 512) -> feature_projection -> (B, T, C)
                -> [mask_emb at masked frames] -> encoder (pos conv + layers) -> hidden states

``normalize`` (data2vec, fairseq ``task.normalize``, HF ``do_normalize``) is part of the model: the feature
extractor brings each input to zero mean and unit variance first, in training, eager inference and inside
every exported graph, so a model file or artifact always takes the raw wave.

``extract_features`` is the one feature interface, and the one forward path: it runs the public stages

    features (conv stack, gradient x grad_mult) -> normalize_features (the feature LayerNorm) -> project
    -> embed (feature dropout; mask_emb at masked frames; channel mask) -> contextualise (transformer)

which the training modules (pretraining, distillation, CTC fine-tuning) call one by one where they need
what lies between (the quantizer input, the projection before dropout, masks drawn from the frame count).
Size builders (``base``, ``large``, ``distilhubert``,
``tiny``...) return configs; ``build_encoder`` makes the model.

Whisper's encoder is the same composition with other parts (``whisper()`` config, imported by
models/convert/whisper.py): Whisper's log-mel, two padded convs with bias and no norm, no feature
projection, sinusoidal positions, pre-LN layers and the final LayerNorm. Its attention keys have no bias;
a zero ``k_proj.bias`` is the same function (softmax is invariant to a per-query constant), so the layers
are unchanged. ``hidden_states`` are, as for every encoder here: [0] the input to layer 1 (conv output +
positions), [i] layer i's output, the last one after the final LayerNorm: exactly transformers'
``WhisperEncoder(output_hidden_states=True).hidden_states``, whose last entry is ``last_hidden_state``.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Literal

import torch
from torch import nn

from edge_ssl.models.conv_extractor import ConvFeatureExtractor
from edge_ssl.models.norm import LayerNorm
from edge_ssl.models.transformer import TransformerEncoder

WAV2VEC2_CONV = [(512, 10, 5)] + [(512, 3, 2)] * 4 + [(512, 2, 2)] * 2


@dataclass
class EncoderConfig:
    conv_layers: list[tuple[int, int, int]] = field(default_factory=lambda: list(WAV2VEC2_CONV))  # (channels, kernel, stride)
    extractor_mode: Literal["group_norm", "layer_norm", "none"] = "group_norm"  # base: group_norm;
    #                                      large/data2vec: layer_norm; Whisper: none
    conv_bias: bool = False              # large (LV-60) and data2vec use conv bias
    frontend: Literal["conv", "logmel", "whisper"] = "conv"  # conv: learned from raw samples (the papers);
    #                                      logmel: edge option; whisper: Whisper's log-mel (models/whisper_frontend.py)
    n_mels: int = 80                     # log-mel bins when frontend is logmel/whisper (Whisper large-v3: 128)
    normalize: bool = False              # each input to zero mean, unit variance over its samples, first thing
    #                                      in the model (data2vec; fairseq task.normalize; HF do_normalize)
    normalize_eps: float = 1e-5          # added to that variance: fairseq's 1e-5; HF's feature extractor 1e-7
    conv_padding: bool = False           # pad each conv with kernel // 2 zeros on both sides (Whisper)
    project_features: bool = True        # LayerNorm + Linear from the convs to embed_dim; Whisper has none
    embed_dim: int = 768                 # transformer width
    num_layers: int = 12
    num_heads: int = 12
    ffn_dim: int = 3072
    layer_norm_first: bool = False       # pre-LN ("stable layer norm"): large models
    positions: Literal["conv", "sinusoidal"] = "conv"  # conv: positional conv; sinusoidal: Whisper's table
    max_positions: int = 1500            # frames the sinusoidal table covers (Whisper: 1500 = 30 s)
    pad_to_frames: int = 0               # > 0: pad each clip with silence to at least this many frames and crop
    #                                      the outputs back (Whisper's own way: 1500 = 30 s); 0: the clip alone
    pos_conv_kernel: int = 128           # wav2vec 2.0/HuBERT: 128; data2vec: 19
    pos_conv_groups: int = 16
    pos_conv_depth: int = 1              # data2vec audio stacks 5 plain convs
    dropout: float = 0.1
    attention_dropout: float = 0.1
    activation_dropout: float = 0.0
    feature_dropout: float = 0.1         # fairseq dropout_input, on the projected features
    layerdrop: float = 0.05              # probability of skipping a whole layer in training
    layer_norm_eps: float = 1e-5
    feature_projection_norm: bool = True  # LayerNorm before the projection; HF HuBERT feat_proj_layer_norm=False drops it

    def validate(self) -> None:
        if self.embed_dim % self.num_heads:
            raise ValueError(f"embed_dim ({self.embed_dim}) must be divisible by num_heads ({self.num_heads})")
        if not self.conv_layers:
            raise ValueError("conv_layers must not be empty")
        if not self.project_features and self.conv_layers[-1][0] != self.embed_dim:
            raise ValueError(f"project_features=False needs the last conv's channels ({self.conv_layers[-1][0]}) "
                             f"to equal embed_dim ({self.embed_dim})")
        if self.pad_to_frames < 0 or (self.positions == "sinusoidal" and self.pad_to_frames > self.max_positions):
            raise ValueError(f"pad_to_frames ({self.pad_to_frames}) must be in 0..max_positions ({self.max_positions})")
        if self.normalize and self.pad_to_frames:
            raise ValueError("normalize and pad_to_frames cannot be combined (the padding silence would enter the "
                             "statistics)")
        if self.normalize_eps <= 0:
            raise ValueError(f"normalize_eps must be > 0, got {self.normalize_eps}")


def scale_grad(x: torch.Tensor, mult: float) -> torch.Tensor:
    """Identity forward; the gradient flowing back is multiplied by ``mult`` (fairseq GradMultiply)."""
    if mult == 1.0:
        return x
    if mult == 0.0:
        return x.detach()
    return x * mult + x.detach() * (1.0 - mult)


@dataclass
class EncoderOutput:
    hidden_states: list[torch.Tensor]            # num_layers + 1 tensors (B, T, C)
    pad_mask: torch.Tensor | None                # (B, T) bool, True at padding; None if unpadded
    ffn_states: list[torch.Tensor | None]        # per layer (B, T, C): FFN output (data2vec targets)
    conv_features: torch.Tensor                  # (B, T, C_conv) extractor output before its LayerNorm

    @property
    def last_hidden_state(self) -> torch.Tensor:
        return self.hidden_states[-1]


class FeatureProjection(nn.Module):
    """The conv features' LayerNorm, Linear to the transformer width and dropout; SpeechEncoder runs the
    three as its stages ``normalize_features``, ``project`` and ``embed``."""

    def __init__(self, c_in: int, c_out: int, dropout: float, eps: float, norm: bool = True):
        super().__init__()
        self.layer_norm = LayerNorm(c_in, eps) if norm else nn.Identity()
        self.proj = nn.Linear(c_in, c_out)
        self.drop = nn.Dropout(dropout)


class SpeechEncoder(nn.Module):
    def __init__(self, cfg: EncoderConfig):
        super().__init__()
        self.cfg = copy.deepcopy(cfg)
        self.feature_extractor = ConvFeatureExtractor(cfg.conv_layers, cfg.extractor_mode, cfg.conv_bias,
                                                      cfg.frontend, cfg.n_mels, cfg.conv_padding,
                                                      cfg.normalize_eps if cfg.normalize else None)
        self.feature_projection = FeatureProjection(
            self.feature_extractor.out_dim, cfg.embed_dim, cfg.feature_dropout, cfg.layer_norm_eps,
            cfg.feature_projection_norm) if cfg.project_features else None
        # Learned vector that replaces masked frames (pretraining masks, SpecAugment in fine-tuning).
        self.mask_emb = nn.Parameter(torch.empty(cfg.embed_dim).uniform_())
        self.encoder = TransformerEncoder(
            cfg.embed_dim, cfg.num_layers, cfg.num_heads, cfg.ffn_dim,
            layer_norm_first=cfg.layer_norm_first, pos_conv_kernel=cfg.pos_conv_kernel,
            pos_conv_groups=cfg.pos_conv_groups, pos_conv_depth=cfg.pos_conv_depth, dropout=cfg.dropout,
            attention_dropout=cfg.attention_dropout, activation_dropout=cfg.activation_dropout,
            layerdrop=cfg.layerdrop, eps=cfg.layer_norm_eps, positions=cfg.positions,
            max_positions=cfg.max_positions)

    @property
    def downsample_rate(self) -> int:
        """Input samples per output frame (320 = 20 ms at 16 kHz for the standard conv stack)."""
        return self.feature_extractor.downsample_rate

    @property
    def receptive_field(self) -> int:
        """Where frame counting starts: T = (S - receptive_field) // downsample_rate + 1. The samples one frame
        sees for an unpadded conv stack (400); 160 for Whisper's centred front-end (padded convs)."""
        return self.feature_extractor.receptive_field

    @property
    def min_samples(self) -> int:
        """The shortest input the model runs on (Whisper: 201, its reflection pad)."""
        return self.feature_extractor.min_samples

    @property
    def max_samples(self) -> int | None:
        """The longest input, or None for no limit: sinusoidal positions cover ``max_positions`` frames
        (Whisper: 1500 frames = 480159 samples, 30 s)."""
        if self.cfg.positions != "sinusoidal":
            return None
        return self.cfg.max_positions * self.downsample_rate + self.receptive_field - 1

    def num_frames(self, num_samples: int) -> int:
        """Output frames for an unpadded input of ``num_samples``; symbolic ints too (torch.export)."""
        return self.feature_extractor.num_frames(num_samples)

    @property
    def embed_dim(self) -> int:
        return self.cfg.embed_dim

    @property
    def feature_dim(self) -> int:
        """Channels of the conv features (``features``, ``normalize_features``): C_conv."""
        return self.feature_extractor.out_dim

    def frame_lengths(self, lengths: torch.Tensor) -> torch.Tensor:
        return self.feature_extractor.frame_lengths(lengths)

    def padding_mask(self, lengths: torch.Tensor | None, num_frames: int) -> torch.Tensor | None:
        """Sample lengths (B,) -> (B, T) bool, True at padded frames."""
        if lengths is None:
            return None
        frames = self.frame_lengths(lengths)
        return torch.arange(num_frames, device=frames.device)[None, :] >= frames[:, None]

    def extract_features(self, wave: torch.Tensor, lengths: torch.Tensor | None = None,
                         num_layers: int | None = None, frame_mask: torch.Tensor | None = None,
                         grad_mult: float = 1.0) -> EncoderOutput:
        """wave: (B, S) float at 16 kHz; lengths: (B,) valid samples, or None when unpadded;
        frame_mask: (B, T) bool, True where the projected frame is replaced by ``mask_emb``;
        grad_mult: the conv features' gradient scale (``features``)."""
        if self.cfg.pad_to_frames:
            return self._extract_padded(wave, lengths, num_layers, frame_mask, grad_mult)
        return self._extract(wave, lengths, num_layers, frame_mask, grad_mult)

    def _extract(self, wave: torch.Tensor, lengths: torch.Tensor | None, num_layers: int | None,
                 frame_mask: torch.Tensor | None, grad_mult: float = 1.0) -> EncoderOutput:
        conv = self.features(wave, lengths, grad_mult)                     # (B, T, C_conv)
        pad_mask = self.padding_mask(lengths, conv.shape[1])              # (B, T) or None
        x = self.embed(self.project(self.normalize_features(conv)), frame_mask)  # (B, T, C)
        hidden, ffns = self.contextualise(x, pad_mask, num_layers)
        return EncoderOutput(hidden, pad_mask, ffns, conv)

    # ---- the stages, in order ----

    def features(self, wave: torch.Tensor, lengths: torch.Tensor | None = None,
                 grad_mult: float = 1.0) -> torch.Tensor:
        """(B, S) wave -> (B, T, C_conv) conv features; their gradient is scaled by ``grad_mult`` (fairseq
        feature_grad_mult: 0.1 in wav2vec 2.0/HuBERT pretraining, 0 (frozen) in CTC fine-tuning)."""
        return scale_grad(self.feature_extractor(wave, lengths), grad_mult)

    def normalize_features(self, conv: torch.Tensor) -> torch.Tensor:
        """(B, T, C_conv) -> (B, T, C_conv) after the feature LayerNorm (the wav2vec 2.0 quantizer's input)."""
        if self.feature_projection is None:
            return conv
        return self.feature_projection.layer_norm(conv)

    def project(self, normed: torch.Tensor) -> torch.Tensor:
        """(B, T, C_conv) -> (B, T, C) to the transformer's width, before dropout (data2vec's teacher input)."""
        if self.feature_projection is None:
            return normed
        return self.feature_projection.proj(normed)

    def embed(self, projected: torch.Tensor, frame_mask: torch.Tensor | None = None,
              channel_keep: torch.Tensor | None = None) -> torch.Tensor:
        """(B, T, C) -> (B, T, C) transformer input: feature dropout, ``mask_emb`` where ``frame_mask`` (B, T)
        is True, then channels zeroed where ``channel_keep`` (B, 1, C) float is 0 (fine-tuning's SpecAugment)."""
        x = projected if self.feature_projection is None else self.feature_projection.drop(projected)
        if frame_mask is not None:
            x = torch.where(frame_mask.unsqueeze(-1), self.mask_emb.to(x.dtype), x)
        if channel_keep is not None:
            x = x * channel_keep
        return x

    def contextualise(self, x: torch.Tensor, pad_mask: torch.Tensor | None = None, num_layers: int | None = None
                      ) -> tuple[list[torch.Tensor], list[torch.Tensor | None]]:
        """(B, T, C) -> (hidden states: num_layers + 1 tensors (B, T, C), FFN outputs per layer); the
        transformer (positions, layers, final LayerNorm) stopped after ``num_layers`` layers if given."""
        return self.encoder(x, pad_mask, num_layers)

    # ---- training and export controls ----

    @property
    def transformer(self) -> nn.Module:
        """The stack ``contextualise`` runs (positions, layers, final LayerNorm): data2vec's EMA teacher copies it."""
        return self.encoder

    def init_for_pretraining(self) -> None:
        """fairseq's from-scratch initialisation: Kaiming-normal conv extractor (keeps the activation scale
        through the 7 convs; PyTorch's default init shrinks it ~3x per layer, leaving features far below the
        feature LayerNorm's eps), and BERT init (normal 0.02, zero bias) for the transformer's linear layers."""
        for block in self.feature_extractor.conv_layers:
            nn.init.kaiming_normal_(block.conv.weight)
        projection = [] if self.feature_projection is None else [self.feature_projection.proj]
        for module in list(self.encoder.modules()) + projection:
            if isinstance(module, nn.Linear):
                nn.init.normal_(module.weight, mean=0.0, std=0.02)
                nn.init.zeros_(module.bias)

    def freeze(self, *parts: str) -> None:
        """Stop training ``feature_extractor`` (fine-tuning keeps the conv stack fixed) and/or ``mask_emb``
        (unused when nothing is masked: kept out of the optimiser and DDP's reduction)."""
        known = {"feature_extractor": self.feature_extractor, "mask_emb": self.mask_emb}
        for part in parts:
            if part not in known:
                raise ValueError(f"cannot freeze {part!r}; choose from {', '.join(known)}")
            known[part].requires_grad_(False)

    def compact_positions(self, frames: int) -> None:
        """For export: keep only the first ``frames`` rows of a sinusoidal position table (no-op for a
        positional conv); see ``SinusoidalPositions.compact``."""
        if self.encoder.positions is not None:
            self.encoder.positions.compact(frames)

    def _extract_padded(self, wave: torch.Tensor, lengths: torch.Tensor | None, num_layers: int | None,
                        frame_mask: torch.Tensor | None, grad_mult: float) -> EncoderOutput:
        """``pad_to_frames``: each clip followed by silence to at least pad_to_frames frames and attended as a
        whole, outputs cropped to the clip's frames. With 1500 frames (30 s) this is what Whisper was trained on
        and what every Whisper implementation computes. In a padded batch row i attends to max(its length, the
        pad) samples, so each row gets exactly its result alone."""
        S, pad = wave.shape[1], self.cfg.pad_to_frames * self.downsample_rate
        keep = self.num_frames(S)  # frames of the unpadded batch; int arithmetic, so a symbolic S exports
        # S' = max(S, pad) as a branch, not sym_max, which ExecuTorch cannot run: an export bounded by the
        # window (deploy/wrappers.py) takes the first branch, and its graph is static past this pad.
        full = nn.functional.pad(wave, (0, pad - S if S <= pad else 0))         # (B, S')
        inner = None                                                        # every row attends to all S'
        if lengths is not None:  # silence after each clip, whatever the batch padding held
            full = full * (torch.arange(full.shape[1], device=wave.device)[None, :] < lengths[:, None]).to(wave.dtype)
            inner = lengths.clamp(min=pad)                                  # (B,) clip + its own silence
            if bool((inner >= full.shape[1]).all()):
                inner = None
        if frame_mask is not None:
            total = self.num_frames(full.shape[1])
            frame_mask = nn.functional.pad(frame_mask, (0, total - frame_mask.shape[1]))  # (B, T')
        out = self._extract(full, inner, num_layers, frame_mask, grad_mult)
        # no slice when nothing is cut: a full-range slice exports as an alias that XNNPACK leaves outside
        crop = lambda t: t if t is None or t.shape[1] == keep else t[:, :keep]  # noqa: E731
        return EncoderOutput([crop(h) for h in out.hidden_states], self.padding_mask(lengths, keep),
                             [crop(f) for f in out.ffn_states], crop(out.conv_features))

    def forward(self, wave: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        """(B, S) -> last hidden state (B, T, C)."""
        return self.extract_features(wave, lengths).last_hidden_state

    def fold_for_inference(self) -> "SpeechEncoder":
        """Remove training-only reparametrisations (weight norm) in place; returns self."""
        if self.encoder.pos_conv is not None:
            self.encoder.pos_conv.fold_weight_norm()
        return self


def build_encoder(cfg: EncoderConfig) -> SpeechEncoder:
    return SpeechEncoder(cfg)


# ---- size builders (configs; papers: wav2vec 2.0 Table 1, HuBERT Table 1, DistilHuBERT Sec. 3) ----

def base(**overrides) -> EncoderConfig:
    """12 x 768, post-LN, group-norm extractor: wav2vec 2.0 BASE / HuBERT BASE (~95M params)."""
    return EncoderConfig(**overrides)


def large(**overrides) -> EncoderConfig:
    """24 x 1024, pre-LN, layer-norm extractor with conv bias: wav2vec 2.0 LARGE (LV-60) / HuBERT LARGE."""
    kw = dict(extractor_mode="layer_norm", conv_bias=True, embed_dim=1024, num_layers=24, num_heads=16,
              ffn_dim=4096, layer_norm_first=True, layerdrop=0.1)
    return EncoderConfig(**{**kw, **overrides})


def data2vec_base(**overrides) -> EncoderConfig:
    """data2vec audio BASE: layer-norm extractor, 5-layer positional conv (kernel 19), post-LN, normalised input."""
    kw = dict(extractor_mode="layer_norm", conv_bias=False, pos_conv_kernel=19, pos_conv_depth=5, layerdrop=0.05,
              normalize=True)
    return EncoderConfig(**{**kw, **overrides})


def distilhubert(**overrides) -> EncoderConfig:
    """DistilHuBERT student: HuBERT BASE's extractor + 2 x 768 layers (~23.5M params), layerdrop 0."""
    kw = dict(num_layers=2, layerdrop=0.0)
    return EncoderConfig(**{**kw, **overrides})


def tiny(**overrides) -> EncoderConfig:
    """A test/CPU-demo size: the standard conv strides with narrow channels, 2 x 64 transformer."""
    conv = [(64, 10, 5)] + [(64, 3, 2)] * 4 + [(64, 2, 2)] * 2
    kw = dict(conv_layers=conv, embed_dim=64, num_layers=2, num_heads=2, ffn_dim=128,
              pos_conv_kernel=16, pos_conv_groups=4, layerdrop=0.0)
    return EncoderConfig(**{**kw, **overrides})


def edge(**overrides) -> EncoderConfig:
    """The edge ASR shape (the bundled model): log-mel front-end + 2 convs to 50 Hz, 6 x 192 pre-LN (~3.1M)."""
    kw = dict(frontend="logmel", conv_layers=[(256, 3, 1), (256, 3, 2)], embed_dim=192, num_layers=6,
              num_heads=4, ffn_dim=768, layer_norm_first=True, pos_conv_kernel=32, pos_conv_groups=16,
              layerdrop=0.0)
    return EncoderConfig(**{**kw, **overrides})


def tiny_logmel(**overrides) -> EncoderConfig:
    """``tiny`` with the log-mel front-end: tests and the CPU demo."""
    return tiny(**{"frontend": "logmel", "conv_layers": [(64, 3, 1), (64, 3, 2)], **overrides})


def whisper(embed_dim: int = 512, num_layers: int = 6, num_heads: int = 8, n_mels: int = 80,
            **overrides) -> EncoderConfig:
    """Whisper's encoder (defaults: base, 19.8M parameters + the fixed 1500 x 512 position table). tiny: 384 x 4,
    6 heads (7.6M); small: 768 x 12, 12 heads; large-v3: 1280 x 32, 20 heads, n_mels 128. No dropout."""
    kw = dict(frontend="whisper", n_mels=n_mels, conv_layers=[(embed_dim, 3, 1), (embed_dim, 3, 2)],
              extractor_mode="none", conv_bias=True, conv_padding=True, project_features=False,
              positions="sinusoidal", max_positions=1500, embed_dim=embed_dim, num_layers=num_layers,
              num_heads=num_heads, ffn_dim=4 * embed_dim, layer_norm_first=True, dropout=0.0,
              attention_dropout=0.0, activation_dropout=0.0, feature_dropout=0.0, layerdrop=0.0)
    return EncoderConfig(**{**kw, **overrides})


SIZES = {"base": base, "large": large, "data2vec_base": data2vec_base, "distilhubert": distilhubert, "tiny": tiny,
         "edge": edge, "tiny_logmel": tiny_logmel, "whisper": whisper}


def encoder_config(size: str, **overrides) -> EncoderConfig:
    if size not in SIZES:
        raise ValueError(f"unknown encoder size {size!r}; choose from {', '.join(SIZES)}")
    return SIZES[size](**overrides)
