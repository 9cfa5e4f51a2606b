"""Whisper's log-mel front-end, built from the same export-friendly ops as ``logmel.py``.

    wave (B, S) -> reflect-pad 200 left, zero-pad 40 right -> windowed DFT as a fixed Conv1d
                (400-sample periodic Hann, hop 160) -> power -> Slaney-normalised mel matmul
                -> log10(max(mel, 1e-10)) -> max(x, utterance max - 8) -> (x + 4) / 4
                ->  (B, n_mels, T),  T = S // 160  (S > 200: the reflection needs 200 samples after the first)

Whisper frames the audio with ``torch.stft(center=True)`` (reflect padding of n_fft // 2 on both sides) and
drops the last frame, after padding every input with silence to 30 s. So frame t is centred on sample
160 t, and the audio after the clip is zeros: padding the right with 40 zeros instead of a reflection gives
exactly Whisper's first S // 160 frames for any clip shorter than 30 s (for exactly 30 s of audio only the
last frame differs, by Whisper's reflection of the final 200 samples).

The clamp at (max - 8) takes the maximum over the utterance's own frames (masked by ``lengths`` in a padded
batch). Whisper takes it over the 30-s padded input, whose extra frames are silence (log10 1e-10 = -10) or
straddle the clip's end, so both agree unless a frame straddling the end were the loudest in the clip.

Export (ExecuTorch XNNPACK, ONNX) with a dynamic length: ``F.pad(mode="reflect")`` traces to an index
computation (arange, abs, sub, gather) the XNNPACK delegate refuses, and ``amax`` over a dynamic time axis is
refused too (its pooling window would be fixed at the traced length). So the reflection is a slice of samples
1..200 (fixed size, on the graph input: outside the delegate when the length is dynamic, but splitting
nothing) reversed by a permutation matmul, and the maximum is running maxima by dilated max-pools (kernel 2,
dilation 2^k, stride 1, -inf padding), which XNNPACK runs at any length, leaving every frame holding the
utterance's maximum. Both are exact. (A halving pyramid would shrink the time axis to 1, and export then
specialises the length to the traced one.)
"""
from __future__ import annotations

import math

import torch
from torch import nn

N_FFT, HOP = 400, 160
SAMPLE_RATE = 16000
_LN10 = math.log(10.0)
# Doubling steps of the running maximum: 2**12 = 4096 log-mel frames (41 s; Whisper's positions end at 30 s).
# A longer (eager) input finishes with amax.
POOL_STEPS = 12


def _mel_to_hz(m: torch.Tensor) -> torch.Tensor:
    """Slaney's mel scale (librosa's default, htk=False), inverted: linear to 1 kHz (mel 15), logarithmic above."""
    log_step = math.log(6.4) / 27.0
    return torch.where(m >= 15.0, 1000.0 * torch.exp(log_step * (m - 15.0)), m * (200.0 / 3))


def slaney_mel_filters(n_mels: int, n_fft: int = N_FFT, sample_rate: int = SAMPLE_RATE) -> torch.Tensor:
    """(n_mels, n_fft // 2 + 1) triangles on the Slaney mel scale from 0 Hz to Nyquist, each scaled by
    2 / (its width in Hz) so every filter has the same area (librosa ``norm="slaney"``, as Whisper ships)."""
    freqs = torch.linspace(0.0, sample_rate / 2, n_fft // 2 + 1, dtype=torch.float64)       # (F,)
    nyquist = sample_rate / 2
    top = 15.0 + math.log(nyquist / 1000.0) / (math.log(6.4) / 27.0) if nyquist >= 1000 else nyquist / (200.0 / 3)
    hz = _mel_to_hz(torch.linspace(0.0, top, n_mels + 2, dtype=torch.float64))             # (M + 2,)
    lower, centre, upper = hz[:-2, None], hz[1:-1, None], hz[2:, None]                     # (M, 1)
    rising = (freqs[None, :] - lower) / (centre - lower)
    falling = (upper - freqs[None, :]) / (upper - centre)
    tri = torch.clamp(torch.minimum(rising, falling), min=0.0)                             # (M, F)
    return tri * (2.0 / (upper - lower))


def sinusoids(length: int, dim: int, max_timescale: float = 10000.0) -> torch.Tensor:
    """Whisper's fixed position table (length, dim): sin in the first half of the channels, cos in the second,
    timescales geometric from 1 to ``max_timescale``."""
    if dim % 2 or dim < 4:
        raise ValueError(f"sinusoidal positions need an even width >= 4, got {dim}")
    half = dim // 2
    rates = torch.exp(-math.log(max_timescale) / (half - 1) * torch.arange(half, dtype=torch.float64))
    angle = torch.arange(length, dtype=torch.float64)[:, None] * rates[None, :]            # (L, dim / 2)
    return torch.cat([angle.sin(), angle.cos()], dim=1).float()                            # (L, dim)


class WhisperLogMel(nn.Module):
    """(B, S) 16 kHz wave -> (B, n_mels, S // 160) Whisper log-mel, for S > 200. No trainable parameters."""

    kernel, stride = N_FFT, HOP
    left, right = N_FFT // 2, N_FFT // 2 - HOP  # centred frames; Whisper's dropped last frame needs no right 160

    def __init__(self, n_mels: int = 80):
        super().__init__()
        self.n_mels = n_mels
        n, n_freqs = N_FFT, N_FFT // 2 + 1
        t = torch.arange(n, dtype=torch.float64)
        window = 0.5 - 0.5 * torch.cos(2 * math.pi * t / n)                      # periodic Hann (torch.hann_window)
        angle = 2 * math.pi * torch.arange(n_freqs, dtype=torch.float64)[:, None] * t[None, :] / n  # (F, n)
        # Persistent buffers as in LogMel: fixed DSP the optimiser and quantizer leave alone, saved with the model.
        self.register_buffer("cos", (torch.cos(angle) * window).float().unsqueeze(1))    # (F, 1, n)
        self.register_buffer("sin", (-torch.sin(angle) * window).float().unsqueeze(1))   # (F, 1, n)
        self.register_buffer("fbank", slaney_mel_filters(n_mels).float())                # (M, F)
        # The reflection as a matmul: XNNPACK has no flip, and a permutation matrix is exact in fp32 (one product
        # by 1 per output). Not saved: it is fixed, and files written before it existed still load.
        self.register_buffer("reverse", torch.eye(self.left).flip(0), persistent=False)  # (200, 200)

    def out_length(self, length: torch.Tensor) -> torch.Tensor:
        return torch.div(length, self.stride, rounding_mode="floor")

    def forward(self, x: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        # x: (B, S) (or (B, 1, S)); lengths: (B,) valid samples or None -> (B, M, T)
        if x.dim() == 3:
            x = x[:, 0]
        B, S = x.shape
        if S <= self.left:
            raise ValueError(f"Whisper's log-mel needs more than {self.left} samples (its reflection pad), got {S}")
        if lengths is not None:  # the clip is followed by silence, as in Whisper's 30-s window
            x = x * (torch.arange(S, device=x.device)[None, :] < lengths[:, None]).to(x.dtype)
        # Reflect pad = samples 200..1 in front: a fixed slice of the graph input, reversed (see the module notes).
        head = nn.functional.linear(x[:, 1:self.left + 1], self.reverse).reshape(B, 1, self.left)  # (B, 1, 200)
        x = torch.cat([head, x.reshape(B, 1, -1)], dim=2)                         # (B, 1, S + 200)
        x = nn.functional.pad(x, (0, self.right))                                # (B, 1, S + 240)
        re = nn.functional.conv1d(x, self.cos, stride=self.stride)               # (B, F, T)
        im = nn.functional.conv1d(x, self.sin, stride=self.stride)               # (B, F, T)
        power = re * re + im * im                                                # (B, F, T)
        mel = nn.functional.linear(power.transpose(1, 2), self.fbank)           # (B, T, M)
        logmel = torch.log(mel.clamp_min(1e-10)) * (1.0 / _LN10)                 # log10, as ops XNNPACK/ONNX take
        logmel = torch.maximum(logmel, self.utterance_max(logmel, lengths) - 8.0)
        return ((logmel + 4.0) / 4.0).transpose(1, 2)                            # (B, M, T)

    def utterance_max(self, logmel: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        """(B, T, M) -> (B, T, 1) or (B, 1, 1): the maximum over each utterance's own frames, broadcastable."""
        B, T, M = logmel.shape
        if lengths is not None:  # a padded batch (training, eager): mask, then one reduction
            valid = torch.arange(T, device=logmel.device)[None, :] < self.out_length(lengths)[:, None]
            return logmel.masked_fill(~valid[:, :, None], -1e4).amax(dim=(1, 2), keepdim=True)
        top = nn.functional.max_pool2d(logmel.view(B, 1, -1, M), (1, M))        # (B, 1, T, 1)
        # Running maxima by doubling (d = 1, 2, 4, ...; -inf beyond the ends): forward, frame t takes
        # max(t, t + d) and ends up holding the max of frames t .. t + 2^K - 1; backward, max(t - d, t), so it
        # holds t - 2^K + 1 .. t + 2^K - 1: every frame. The length never changes, so export adds no guard on it.
        for forward in (True, False):
            for k in range(POOL_STEPS):
                d = 2**k
                top = nn.functional.pad(top, (0, 0, 0, d) if forward else (0, 0, d, 0), value=float("-inf"))
                top = nn.functional.max_pool2d(top, (2, 1), 1, 0, (d, 1))        # (B, 1, T, 1)
        if T > 2**POOL_STEPS:  # longer than the doubling covers (eager only: exports stop at Whisper's 30 s)
            top = top.amax(dim=2, keepdim=True)
        return top.view(B, -1, 1)                                                # (B, T or 1, 1)
