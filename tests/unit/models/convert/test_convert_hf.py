"""HF transformers folders -> edge-ssl models: every hidden state (and CTC logit) equals transformers'."""
import json

import pytest
import torch

from hf_reference import TOL, VOCAB, max_diffs, random_model, reference, save_folder
from edge_ssl.asr.decode.tokenizer import CharTokenizer
from edge_ssl.errors import EdgeSSLError
from edge_ssl.models.convert import build_model, import_teacher, save_teacher
from edge_ssl.models.store import load_model

LARGE_STYLE = dict(feat_extract_norm="layer", do_stable_layer_norm=True, conv_bias=True)

CASES = {
    # name: (model_type, ctc, config overrides, weights format)
    "w2v2_base_group_postln": ("wav2vec2", False, {}, "safetensors"),
    "w2v2_large_style": ("wav2vec2", False, LARGE_STYLE, "bin"),
    "w2v2_layer_postln_eps_oddpos": ("wav2vec2", False, dict(feat_extract_norm="layer", layer_norm_eps=1e-6,
                                                             num_conv_pos_embeddings=17,
                                                             conv_dim=(8, 16, 16, 24, 24, 32, 40)), "safetensors"),
    "w2v2_group_convbias_no_specaug": ("wav2vec2", False, dict(conv_bias=True, mask_time_prob=0.0), "safetensors"),
    "w2v2_standard_conv_stack": ("wav2vec2", False, dict(conv_dim=(512,) * 7), "safetensors"),
    "w2v2_ctc_large_style": ("wav2vec2", True, LARGE_STYLE, "safetensors"),
    "hubert_base": ("hubert", False, {}, "bin-legacy"),
    "hubert_no_feat_proj_ln": ("hubert", False, dict(feat_proj_layer_norm=False), "sharded"),
    "hubert_ctc_large_style": ("hubert", True, LARGE_STYLE, "bin"),
    "hubert_ctc_base": ("hubert", True, {}, "safetensors"),
    "data2vec": ("data2vec-audio", False, {}, "safetensors"),
    # a 5-layer conv stack (downsample 160) and an even positional kernel (one frame trimmed)
    "data2vec_convbias_5conv_evenpos": ("data2vec-audio", False, dict(
        conv_bias=True, num_conv_pos_embeddings=2, conv_pos_kernel_size=4, conv_dim=(16,) * 5,
        conv_kernel=(10, 3, 3, 3, 2), conv_stride=(5, 2, 2, 2, 2)), "bin"),
    "data2vec_ctc": ("data2vec-audio", True, {}, "safetensors"),
}


def _folder(tmp_path, name):
    model_type, ctc, overrides, fmt = CASES[name]
    model = random_model(model_type, ctc, **overrides)
    folder = save_folder(model, tmp_path / name, fmt.split("-")[0], legacy_names=fmt.endswith("legacy"),
                         vocab=VOCAB if ctc else None)
    return model, folder


@pytest.mark.parametrize("name", list(CASES))
def test_matches_transformers_on_every_layer(tmp_path, name):
    ref_model, folder = _folder(tmp_path, name)
    out = tmp_path / "m.safetensors"
    tokens = save_teacher(import_teacher(folder), out)
    model, meta = load_model(out)
    wave = torch.randn(1, 9000)
    ref_hidden, ref_logits = reference(ref_model, wave)
    with torch.no_grad():
        encoder = model.encoder if meta["kind"] == "ctc" else model
        diffs = max_diffs(ref_hidden, encoder.extract_features(wave).hidden_states)
    assert max(diffs) <= TOL, diffs
    if CASES[name][1]:
        assert meta["kind"] == "ctc" and tokens is not None
        # HF's <pad> (id 0) is the blank; other ids keep their order, letters lower-cased
        assert meta["vocab"][:6] == ["<blk>", "<s>", "</s>", "<unk>", "|", "e"]
        assert CharTokenizer.load(tokens).tokens == tuple(meta["vocab"])
        with torch.no_grad():
            logits, _ = model(wave)
        assert float((logits - ref_logits).abs().max()) <= TOL
    else:
        assert meta["kind"] == "speech_encoder" and tokens is None


@pytest.mark.parametrize("name", ["w2v2_large_style", "hubert_ctc_large_style", "w2v2_layer_postln_eps_oddpos"])
def test_padded_batch_matches_transformers_attention_mask(tmp_path, name):
    ref_model, folder = _folder(tmp_path, name)
    model = build_model(import_teacher(folder, encoder_only=True))
    lengths = torch.tensor([12000, 7000])
    wave = torch.randn(2, 12000) * (torch.arange(12000)[None] < lengths[:, None])
    mask = (torch.arange(12000)[None] < lengths[:, None]).long()
    ref_hidden, _ = reference(ref_model, wave, mask)
    with torch.no_grad():
        out = model.extract_features(wave, lengths)
    frames = model.frame_lengths(lengths)
    for i, t in enumerate(frames.tolist()):
        diffs = max_diffs([h[i, :t] for h in ref_hidden], [h[i, :t] for h in out.hidden_states])
        assert max(diffs) <= TOL, (i, diffs)


def test_data2vec_padded_batch_equals_each_utterance_alone(tmp_path):
    """transformers zeroes padding once before data2vec's 5-conv positional stack, so its padded batch leaks
    padding into real frames near the end; edge-ssl re-zeroes after each conv, so a padded batch equals each
    utterance run alone, which is the reference here."""
    ref_model, folder = _folder(tmp_path, "data2vec")
    model = build_model(import_teacher(folder))
    lengths = torch.tensor([12000, 7000])
    wave = torch.randn(2, 12000) * (torch.arange(12000)[None] < lengths[:, None])
    with torch.no_grad():
        out = model.extract_features(wave, lengths)
    for i, (n, t) in enumerate(zip(lengths.tolist(), model.frame_lengths(lengths).tolist())):
        ref_hidden, _ = reference(ref_model, wave[i:i + 1, :n])
        assert max(max_diffs([h[0] for h in ref_hidden], [h[i, :t] for h in out.hidden_states])) <= TOL


def test_ctc_blank_moves_to_id_zero(tmp_path):
    """A vocabulary whose pad (blank) is not id 0: rows are permuted so edge-ssl's blank id 0 holds."""
    vocab = ["<s>", "</s>", "|", "A", "B", "<pad>", "<unk>"]
    ref_model = random_model("wav2vec2", ctc=True, vocab_size=len(vocab), pad_token_id=5)
    folder = save_folder(ref_model, tmp_path / "hf", vocab=vocab)
    model = build_model(t := import_teacher(folder))
    assert t.vocab == ["<blk>", "<s>", "</s>", "|", "a", "b", "<unk>"]
    wave = torch.randn(1, 6000)
    _, ref_logits = reference(ref_model, wave)
    with torch.no_grad():
        logits, _ = model(wave)
    torch.testing.assert_close(logits, ref_logits[..., [5, 0, 1, 2, 3, 4, 6]], atol=TOL, rtol=0)


def test_encoder_only_from_ctc_model(tmp_path):
    ref_model, folder = _folder(tmp_path, "hubert_ctc_base")
    t = import_teacher(folder, encoder_only=True)
    assert t.kind == "speech_encoder" and t.vocab is None


def test_pretraining_heads_dropped_other_heads_need_encoder_only(tmp_path):
    from hf_reference import SMALL, transformers

    torch.manual_seed(0)
    pre = transformers.Wav2Vec2ForPreTraining(transformers.Wav2Vec2Config(**SMALL)).eval()
    save_folder(pre, tmp_path / "pre")
    model = build_model(import_teacher(tmp_path / "pre"))
    wave = torch.randn(1, 6000)
    ref_hidden, _ = reference(pre.wav2vec2, wave)
    with torch.no_grad():
        assert max(max_diffs(ref_hidden, model.extract_features(wave).hidden_states)) <= TOL
    cls = transformers.HubertForSequenceClassification(transformers.HubertConfig(**SMALL, num_labels=3))
    save_folder(cls, tmp_path / "cls")
    with pytest.raises(EdgeSSLError, match="HubertForSequenceClassification.*--encoder-only"):
        import_teacher(tmp_path / "cls")
    assert import_teacher(tmp_path / "cls", encoder_only=True).kind == "speech_encoder"


@pytest.mark.parametrize("field,value,match", [
    ("hidden_act", "relu", "hidden_act"),
    ("feat_extract_activation", "gelu_new", "feat_extract_activation"),
    ("add_adapter", True, "add_adapter"),
    ("adapter_attn_dim", 16, "adapter_attn_dim"),
    ("conv_pos_batch_norm", True, "conv_pos_batch_norm"),
    ("feat_extract_norm", "batch", "feat_extract_norm"),
    ("model_type", "wav2vec2-conformer", "model_type"),
])
def test_unsupported_config_fields_are_named(tmp_path, field, value, match):
    _, folder = _folder(tmp_path, "hubert_base")
    cfg = json.loads((folder / "config.json").read_text())
    cfg[field] = value
    (folder / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(EdgeSSLError, match=match):
        import_teacher(folder)


def test_missing_pieces_give_clear_errors(tmp_path):
    _, folder = _folder(tmp_path, "hubert_ctc_base")
    (folder / "vocab.json").unlink()
    with pytest.raises(EdgeSSLError, match="vocab.json"):
        import_teacher(folder)
    (folder / "model.safetensors").unlink()
    with pytest.raises(EdgeSSLError, match="no model.safetensors or pytorch_model.bin"):
        import_teacher(folder, encoder_only=True)
    with pytest.raises(EdgeSSLError, match="not found"):
        import_teacher(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(EdgeSSLError, match="config.json"):
        import_teacher(tmp_path / "empty")


def test_extra_weights_are_refused_not_dropped(tmp_path):
    """A tensor the edge-ssl encoder has no place for (e.g. an adapter) is an error naming it."""
    from safetensors.torch import load_file, save_file

    _, folder = _folder(tmp_path, "w2v2_base_group_postln")
    state = load_file(str(folder / "model.safetensors"))
    state["encoder.layers.0.adapter_layer.linear_1.weight"] = torch.zeros(4, 32)
    save_file(state, str(folder / "model.safetensors"))
    with pytest.raises(EdgeSSLError, match="adapter_layer"):
        import_teacher(folder)
