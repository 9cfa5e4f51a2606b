"""fairseq checkpoints -> edge-ssl models, compared with the transformers model they were written from."""
import argparse
import os
import sys
import types

import pytest
import torch

from fairseq_format import write_checkpoint
from hf_reference import TOL, VOCAB, max_diffs, random_model, reference
from edge_ssl.errors import EdgeSSLError
from edge_ssl.models.convert import import_teacher, save_teacher
from edge_ssl.models.convert.safe_unpickle import load_checkpoint, to_python
from edge_ssl.models.store import load_model

LARGE_STYLE = dict(feat_extract_norm="layer", do_stable_layer_norm=True, conv_bias=True)
FAIRSEQ_VOCAB = ["<s>", *VOCAB[1:]]  # fairseq's Dictionary: <s> (the CTC blank, id 0), <pad>, </s>, <unk>, ...
FAIRSEQ_VOCAB[1] = "<pad>"


@pytest.fixture
def fake_fairseq_dictionary(monkeypatch):
    """A class pickled under fairseq's name, as a fine-tuning checkpoint's task_state holds it."""
    for name in ("fairseq", "fairseq.data", "fairseq.data.dictionary"):
        monkeypatch.setitem(sys.modules, name, types.ModuleType(name))

    class Dictionary:
        def __init__(self, symbols):
            self.symbols, self.count = list(symbols), [1] * len(symbols)
            self.indices = {s: i for i, s in enumerate(symbols)}
            self.bos_word, self.pad_word, self.eos_word, self.unk_word = "<s>", "<pad>", "</s>", "<unk>"

    Dictionary.__module__, Dictionary.__qualname__ = "fairseq.data.dictionary", "Dictionary"
    sys.modules["fairseq.data.dictionary"].Dictionary = Dictionary
    return Dictionary


CASES = {
    # name: (model_type, ctc, overrides, config form, legacy (pre-1.6) torch format)
    "w2v2_base_dictconfig": ("wav2vec2", False, {}, "dictconfig", False),
    "w2v2_large_ctc_dictconfig": ("wav2vec2", True, LARGE_STYLE, "dictconfig", False),
    "hubert_namespace_legacy_format": ("hubert", False, {}, "namespace", True),
    "hubert_large_ctc_namespace": ("hubert", True, LARGE_STYLE, "namespace", False),
    "data2vec_plain_dict": ("data2vec-audio", False, dict(conv_bias=True), "dict", False),
    "data2vec_ctc_dictconfig": ("data2vec-audio", True, {}, "dictconfig", False),
}


@pytest.mark.parametrize("name", list(CASES))
def test_matches_transformers_on_every_layer(tmp_path, name, fake_fairseq_dictionary):
    model_type, ctc, overrides, form, legacy = CASES[name]
    hf = random_model(model_type, ctc, seed=1, **overrides)
    task_state = None
    if ctc and form == "namespace":  # the vocabulary from dict.ltr.txt beside the checkpoint
        (tmp_path / "dict.ltr.txt").write_text("".join(f"{s} {100 - i}\n" for i, s in enumerate(FAIRSEQ_VOCAB[4:])))
    elif ctc:  # the vocabulary from the Dictionary pickled in task_state
        task_state = {"target_dictionary": fake_fairseq_dictionary(FAIRSEQ_VOCAB)}
    pt = write_checkpoint(hf, tmp_path / "checkpoint_best.pt", form, legacy_zip=legacy, task_state=task_state)
    out = tmp_path / "m.safetensors"
    save_teacher(import_teacher(pt), out)
    model, meta = load_model(out)
    wave = torch.randn(1, 9000)
    ref_hidden, ref_logits = reference(hf, wave)
    with torch.no_grad():
        encoder = model.encoder if ctc else model
        diffs = max_diffs(ref_hidden, encoder.extract_features(wave).hidden_states)
    assert max(diffs) <= TOL, diffs
    assert meta["kind"] == ("ctc" if ctc else "speech_encoder")
    if ctc:  # fairseq's blank is <s> (id 0): it stays first; HF called the same row <pad>
        assert meta["vocab"][:6] == ["<blk>", "<pad>", "</s>", "<unk>", "|", "e"]
        with torch.no_grad():
            logits, _ = model(wave)
        assert float((logits - ref_logits).abs().max()) <= TOL
        assert model.encoder.cfg.dropout == 0.0  # the fine-tuning config's dropout overrides the pretraining one


def test_fine_tuning_dict_option_and_missing_dict(tmp_path):
    hf = random_model("wav2vec2", ctc=True)
    pt = write_checkpoint(hf, tmp_path / "ft.pt", "dictconfig")
    with pytest.raises(EdgeSSLError, match="--dict"):
        import_teacher(pt)
    d = tmp_path / "letters.txt"
    d.write_text("".join(f"{s} 1\n" for s in FAIRSEQ_VOCAB[4:]))
    assert import_teacher(pt, dict_path=d).vocab[4:6] == ["|", "e"]
    d.write_text("".join(f"{s} 1\n" for s in FAIRSEQ_VOCAB[4:-1]))
    with pytest.raises(EdgeSSLError, match="31 symbols but the CTC layer"):
        import_teacher(pt, dict_path=d)
    assert import_teacher(pt, encoder_only=True).kind == "speech_encoder"


def test_dictconfig_reads_back_as_plain_config(tmp_path):
    hf = random_model("hubert")
    pt = write_checkpoint(hf, tmp_path / "h.pt", "dictconfig")
    cfg = to_python(load_checkpoint(pt)["cfg"])
    assert cfg["model"]["_name"] == "hubert" and cfg["model"]["encoder_layers"] == 2
    assert cfg["checkpoint"]["best_checkpoint_metric"] == "hubert"  # ${criterion._name} resolved


class _RunsShell:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


@pytest.mark.parametrize("legacy", [False, True])
def test_pickle_naming_a_callable_is_refused_and_not_run(tmp_path, legacy):
    marker = tmp_path / "pwned"
    ckpt = {"args": argparse.Namespace(arch="wav2vec2"), "model": {}, "extra_state": _RunsShell(marker)}
    torch.save(ckpt, tmp_path / "evil.pt", _use_new_zipfile_serialization=not legacy)
    with pytest.raises(EdgeSSLError, match=r"refusing to load.*(posix|os)\.system"):
        import_teacher(tmp_path / "evil.pt")
    assert not marker.exists()


def test_conv_layers_string_is_not_evaluated(tmp_path):
    hf = random_model("wav2vec2")
    pt = write_checkpoint(hf, tmp_path / "w.pt", "dict")
    ckpt = torch.load(pt, weights_only=False)
    ckpt["cfg"]["model"]["conv_feature_layers"] = "[__import__('os').system('touch x')]"
    torch.save(ckpt, pt)
    with pytest.raises(EdgeSSLError, match="conv_feature_layers"):
        import_teacher(pt)


@pytest.mark.parametrize("field,value", [("activation_fn", "relu"), ("layer_type", "conformer"),
                                         ("extractor_mode", "batch")])
def test_unsupported_model_fields_are_named(tmp_path, field, value):
    hf = random_model("wav2vec2")
    pt = write_checkpoint(hf, tmp_path / "w.pt", "dict")
    ckpt = torch.load(pt, weights_only=False)
    ckpt["cfg"]["model"][field] = value
    torch.save(ckpt, pt)
    with pytest.raises(EdgeSSLError, match=f"model.{field}"):
        import_teacher(pt)


def test_not_a_checkpoint(tmp_path):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a pickle at all")
    with pytest.raises(EdgeSSLError, match="bad.pt"):
        import_teacher(bad)
    torch.save({"model": {}}, bad)
    with pytest.raises(EdgeSSLError, match="neither 'cfg' nor 'args'"):
        import_teacher(bad)


def test_fine_tune_without_pretraining_config(tmp_path):
    torch.save({"cfg": {"model": {"_name": "wav2vec_ctc", "w2v_path": "/data/wav2vec_small.pt", "w2v_args": None}},
                "model": {}}, tmp_path / "ft.pt")
    with pytest.raises(EdgeSSLError, match="w2v_path='/data/wav2vec_small.pt'"):
        import_teacher(tmp_path / "ft.pt")
