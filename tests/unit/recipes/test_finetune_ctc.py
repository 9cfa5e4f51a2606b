import numpy as np
import pytest
import torch

from edge_ssl.asr.decode.tokenizer import CharTokenizer
from edge_ssl.audio.io import save_wav
from edge_ssl.data.manifest import Utterance, write_manifest
from edge_ssl.errors import EdgeSSLError
from edge_ssl.models.ctc import CTCModel
from edge_ssl.models.speech_encoder import SpeechEncoder, tiny
from edge_ssl.models.store import save_model
from edge_ssl.methods.ctc import CTCFinetuner, FinetuneModelConfig, MaskingConfig
from edge_ssl.recipes.finetune_ctc import LabeledDataConfig, build_model, select_labeled


def manifest(tmp_path, n=40, text=True):
    for i in range(n):  # real files: select_labeled checks num_samples against their headers
        save_wav(tmp_path / f"u{i}.wav", np.zeros(8000 + i, np.float32))
    utts = [Utterance(f"u{i:02d}", tmp_path / f"u{i}.wav", 8000 + i, f"word {i}" if text else None) for i in range(n)]
    return str(write_manifest(utts, tmp_path / "m.jsonl"))


def test_labeled_fraction_is_a_deterministic_subset(tmp_path):
    m = manifest(tmp_path)
    a = select_labeled(m, LabeledDataConfig(labeled_fraction=0.1))
    b = select_labeled(m, LabeledDataConfig(labeled_fraction=0.1))
    c = select_labeled(m, LabeledDataConfig(labeled_fraction=0.1, subset_seed=1))
    assert len(a) == 4 and [u.id for u in a] == [u.id for u in b] != [u.id for u in c]
    assert len(select_labeled(m, LabeledDataConfig(labeled_fraction=0.1, max_sample_size=8010))) <= 4


def test_manifest_without_transcripts_is_a_clear_error(tmp_path):
    with pytest.raises(EdgeSSLError, match="no utterance has a transcript"):
        select_labeled(manifest(tmp_path, text=False), LabeledDataConfig())


def test_init_from_encoder_and_ctc_files(tmp_path):
    enc = SpeechEncoder(tiny())
    save_model(enc, tmp_path / "enc.safetensors", "speech_encoder", tiny())
    model, cfg = build_model(FinetuneModelConfig(init_from=str(tmp_path / "enc.safetensors"), layerdrop=0.0), 29)
    torch.testing.assert_close(model.encoder.encoder.layers[1].ffn.fc1.weight, enc.encoder.layers[1].ffn.fc1.weight)
    assert cfg.activation_dropout == 0.1  # fine-tuning regularisation overrides the file's

    save_model(model, tmp_path / "ctc.safetensors", "ctc", {"encoder": cfg}, vocab=list(CharTokenizer().tokens))
    again, _ = build_model(FinetuneModelConfig(init_from=str(tmp_path / "ctc.safetensors")), 29)
    torch.testing.assert_close(again.encoder.mask_emb, enc.mask_emb)

    save_model(SpeechEncoder(tiny(num_layers=3)), tmp_path / "bad.safetensors", "speech_encoder", tiny())
    with pytest.raises(EdgeSSLError, match=r"unexpected .*layers\.2"):
        build_model(FinetuneModelConfig(init_from=str(tmp_path / "bad.safetensors")), 29)


def batch():
    return {"wave": torch.randn(2, 8000), "lengths": torch.tensor([8000, 6000]), "indices": torch.tensor([0, 1])}


def test_freezing_schedule_and_masks():
    torch.manual_seed(0)
    cfg = FinetuneModelConfig(freeze_encoder_steps=2, layerdrop=0.0,
                              masking=MaskingConfig(mask_prob=0.5, mask_channel_prob=0.3, mask_channel_length=8))
    module = CTCFinetuner(CTCModel(tiny(), 29), [[3, 4, 5], [6, 1, 7]], cfg, seed=0).train()
    loss, logs = module(batch())
    loss.backward()
    assert logs["frozen"] == 1.0
    assert module.model.head.weight.grad is not None
    assert module.model.encoder.encoder.layers[0].ffn.fc1.weight.grad is None
    assert all(p.grad is None for p in module.model.encoder.feature_extractor.parameters())

    module.zero_grad(set_to_none=True)
    module.on_update(2)
    loss, logs = module(batch())
    loss.backward()
    assert logs["frozen"] == 0.0 and module.model.encoder.encoder.layers[0].ffn.fc1.weight.grad is not None
    assert all(p.grad is None for p in module.model.encoder.feature_extractor.parameters())  # always frozen

    x = torch.randn(2, 24, 64)
    t1, c1 = module.masks(x, torch.tensor([24, 16]), [0, 1])
    t2, _ = module.masks(x, torch.tensor([24, 16]), [0, 1])
    assert torch.equal(t1, t2) and t1.any() and not t1[1, 16:].any()  # per-utterance seeded, never on padding
    assert c1.shape == (2, 1, 64) and (c1 == 0).any()
