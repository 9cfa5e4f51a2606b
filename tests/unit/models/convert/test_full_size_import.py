"""Opt-in (slow): the published architectures at full size, random weights, through the CLI's --verify path.

Run: .venv/bin/python -m pytest -m slow -s tests/unit/models/convert/test_full_size_import.py
"""
import pytest
import torch

from hf_reference import CLASSES, VOCAB, save_folder
from edge_ssl.models.convert import VERIFY_TOL, import_to_file

# transformers' defaults are the BASE models (hubert-base-ls960, wav2vec2-base, data2vec-audio-base);
# LARGE is wav2vec2-large-lv60 / hubert-large-ll60k's encoder.
LARGE = dict(hidden_size=1024, num_hidden_layers=24, num_attention_heads=16, intermediate_size=4096,
             feat_extract_norm="layer", do_stable_layer_norm=True, conv_bias=True)
CONFIGS = {
    "hubert_base": ("hubert", False, {}),
    "wav2vec2_base_960h_ctc": ("wav2vec2", True, dict(vocab_size=len(VOCAB))),
    "data2vec_audio_base": ("data2vec-audio", False, {}),
    "wav2vec2_large_lv60": ("wav2vec2", False, LARGE),
}


@pytest.mark.slow
@pytest.mark.parametrize("name", list(CONFIGS))
def test_full_size_matches_transformers(tmp_path, name):
    model_type, ctc, overrides = CONFIGS[name]
    torch.manual_seed(0)
    cfg_cls, base_cls, ctc_cls = CLASSES[model_type]
    model = (ctc_cls if ctc else base_cls)(cfg_cls(**overrides)).eval()
    folder = save_folder(model, tmp_path / name, vocab=VOCAB if ctc else None)
    _, _, check = import_to_file(folder, tmp_path / "m.safetensors", verify=True)
    print(f"\n{name}: max |diff| per hidden state {[f'{d:.1e}' for d in check.layer_max_abs_diff]}"
          f"{'' if check.logits_max_abs_diff is None else f', logits {check.logits_max_abs_diff:.1e}'}")
    assert check.worst <= VERIFY_TOL
