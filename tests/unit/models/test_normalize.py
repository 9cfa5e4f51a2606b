"""``encoder.normalize`` is part of the model and every path that runs a speech encoder honours it (issue 18 #2):
the feature extractor normalises first, so pretraining, distillation (teacher and student), CTC fine-tuning,
hubert-targets and the runtimes all see the normalised wave. Property used: with normalize on, a gain and a
DC offset on the input change nothing (to the epsilon); with it off they do."""
import numpy as np
import pytest
import torch

from edge_ssl.models.norm import normalize_utterance
from edge_ssl.models.speech_encoder import SpeechEncoder, tiny

# No norm inside the conv stack (group norm would itself cancel gain and offset) and no dropout.
PLAIN = dict(extractor_mode="none", dropout=0.0, attention_dropout=0.0, activation_dropout=0.0, feature_dropout=0.0)


def batch() -> dict:
    g = torch.Generator().manual_seed(0)
    lengths = torch.tensor([8000, 6000])                                        # (B,)
    keep = torch.arange(8000)[None, :] < lengths[:, None]                       # (B, S)
    return {"wave": 0.3 * torch.randn(2, 8000, generator=g) * keep, "lengths": lengths,
            "indices": torch.tensor([0, 1]), "ids": ["a", "b"]}


def louder(b: dict) -> dict:
    """Gain 3 and a DC offset on the real samples; padding stays 0."""
    keep = torch.arange(b["wave"].shape[1])[None, :] < b["lengths"][:, None]
    return {**b, "wave": (3.0 * b["wave"] + 0.2) * keep}


def test_the_model_normalises_first_and_exactly_as_normalize_utterance():
    torch.manual_seed(0)
    on = SpeechEncoder(tiny(normalize=True)).eval()
    off = SpeechEncoder(tiny()).eval()
    off.load_state_dict(on.state_dict())  # normalize adds no tensor: files keep their keys
    wave = 0.03 * torch.randn(1, 8000) + 0.02
    with torch.no_grad():
        assert torch.equal(on(wave), off(normalize_utterance(wave, None, 1e-5)))
        assert not torch.allclose(on(wave), off(wave), atol=1e-3)


def test_a_padded_batch_normalises_each_utterance_over_its_own_samples():
    torch.manual_seed(0)
    m = SpeechEncoder(tiny(normalize=True)).eval()
    b = louder(batch())
    with torch.no_grad():
        out = m.extract_features(b["wave"], b["lengths"]).last_hidden_state     # (B, T, C)
        for i, (n, t) in enumerate(zip(b["lengths"].tolist(), m.frame_lengths(b["lengths"]).tolist())):
            torch.testing.assert_close(out[i, :t], m(b["wave"][i:i + 1, :n])[0], atol=1e-5, rtol=1e-5)


def test_normalize_with_pad_to_frames_is_refused():
    with pytest.raises(ValueError, match="normalize and pad_to_frames"):
        tiny(normalize=True, pad_to_frames=100, positions="sinusoidal").validate()


def data2vec_loss(normalize: bool, b: dict) -> float:
    from edge_ssl.methods.data2vec import Data2VecObjective, Data2VecPretrainer

    torch.manual_seed(0)
    m = Data2VecPretrainer(tiny(normalize=normalize, **PLAIN),
                           Data2VecObjective(top_k=2))
    return m(b)[0].item()


def distill_loss(normalize: bool, b: dict) -> float:
    from edge_ssl.models.distiller import Distiller, StudentConfig
    from edge_ssl.methods.distill import DistillModule

    torch.manual_seed(0)
    teacher = SpeechEncoder(tiny(normalize=normalize, **PLAIN)).eval()
    distiller = Distiller(teacher.cfg, StudentConfig(num_layers=1, target_layers=[1, 2]))
    assert distiller.student.cfg.normalize == normalize  # the student inherits the teacher's input
    return DistillModule(teacher, distiller, cos_weight=1.0)(b)[0].item()


def finetune_loss(normalize: bool, b: dict) -> float:
    from edge_ssl.models.ctc import CTCModel
    from edge_ssl.methods.ctc import CTCFinetuner, FinetuneModelConfig

    torch.manual_seed(0)
    model = CTCModel(tiny(normalize=normalize, **PLAIN), vocab_size=8, final_dropout=0.0)
    return CTCFinetuner(model, [[1, 2, 3], [2, 3]], FinetuneModelConfig())(b)[0].item()


@pytest.mark.parametrize("loss", [data2vec_loss, distill_loss, finetune_loss])
def test_training_modules_see_the_normalised_wave(loss):
    b = batch()
    assert loss(True, louder(b)) == pytest.approx(loss(True, b), rel=1e-5)   # measured: < 1e-6
    assert loss(False, louder(b)) != pytest.approx(loss(False, b), rel=1e-3)  # measured: 4e-3 .. 5e-2


def test_hubert_targets_from_a_normalising_model(tmp_path):
    from edge_ssl.models.store import save_model
    from edge_ssl.targets.dump import TargetsConfig, feature_fn

    wave = (0.3 * np.random.default_rng(0).standard_normal(8000)).astype(np.float32)
    runs = {}
    for normalize in (True, False):
        torch.manual_seed(0)
        cfg = tiny(normalize=normalize, **PLAIN)
        save_model(SpeechEncoder(cfg), tmp_path / f"{normalize}.safetensors", "speech_encoder", cfg)
        runs[normalize] = feature_fn(TargetsConfig(features=str(tmp_path / f"{normalize}.safetensors"), layer=2))[0]
    np.testing.assert_allclose(runs[True](3.0 * wave + 0.2), runs[True](wave), rtol=1e-4, atol=2e-4)  # eps aside
    assert not np.allclose(runs[False](3.0 * wave + 0.2), runs[False](wave), rtol=1e-2, atol=1e-3)


def test_data2vec_recipe_saves_a_normalising_model():
    from edge_ssl.config import load_config
    from edge_ssl.recipes import pretrain_data2vec
    from edge_ssl.recipes.runner import resolve_config_path

    assert pretrain_data2vec.Config().encoder.normalize
    for name in ("data2vec/tiny", "data2vec/base"):
        assert load_config(pretrain_data2vec.Config, resolve_config_path(name)).encoder.normalize, name
