"""Check an imported HF model against transformers itself (when it is installed): max |Δ| per layer.

Hidden-state convention (the one edge-ssl follows): the input to layer 1, then each layer's output, the
last one being the encoder output, i.e. after the final LayerNorm for stable-layer-norm (pre-LN) models.
transformers 4 returned exactly that; transformers 5 puts the un-normed last layer output in
``hidden_states[-1]``, so the last entry is taken from ``last_hidden_state``.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from edge_ssl.errors import EdgeSSLError


@dataclass
class Verification:
    layer_max_abs_diff: list[float]        # per hidden state, input to layer 1 first
    logits_max_abs_diff: float | None      # CTC models only (logits in edge-ssl vocabulary order)

    @property
    def worst(self) -> float:
        return max(self.layer_max_abs_diff + [self.logits_max_abs_diff or 0.0])


def verify_against_transformers(folder: str | Path, model: torch.nn.Module, row_order: list[int] | None = None,
                                seconds: float = 2.0, seed: int = 0) -> Verification:
    """Run the HF model in ``folder`` (local files only) and the imported edge-ssl ``model`` on the same
    random waveform (batch 1, no mask): transformers after its feature extractor (``do_normalize``) when the
    folder has one, edge-ssl on the raw wave (it normalises itself). ``row_order``: edge vocab id -> HF id."""
    try:
        import transformers
    except ImportError:
        raise EdgeSSLError("--verify needs transformers (pip install 'edge-ssl[dev]')") from None
    auto = transformers.AutoModelForCTC if row_order is not None else transformers.AutoModel
    ref = auto.from_pretrained(str(folder), local_files_only=True).eval()
    wave = torch.randn(1, int(16000 * seconds), generator=torch.Generator().manual_seed(seed))  # (1, S)
    x = wave
    if (Path(folder) / "preprocessor_config.json").is_file():
        fe = transformers.AutoFeatureExtractor.from_pretrained(str(folder), local_files_only=True)
        x = fe(wave[0].numpy(), sampling_rate=16000, return_tensors="pt").input_values  # (1, S)
    base = getattr(ref, ref.base_model_prefix) if row_order is not None else ref
    encoder = model.encoder if row_order is not None else model
    with torch.no_grad():
        out = base(x, output_hidden_states=True)
        expected = list(out.hidden_states[:-1]) + [out.last_hidden_state]
        got = encoder.extract_features(wave).hidden_states
        diffs = [float((a - b).abs().max()) for a, b in zip(expected, got)]
        logits = None
        if row_order is not None:
            logits = float((ref(x).logits[..., row_order] - model(wave)[0]).abs().max())
    if len(expected) != len(got):
        raise EdgeSSLError(f"{folder}: {len(expected)} hidden states from transformers, {len(got)} imported")
    return Verification(diffs, logits)
