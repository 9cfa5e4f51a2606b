"""Input normalisation travels with an imported model (issue 18 #2): HF ``do_normalize`` and fairseq
``task.normalize`` become the model's ``normalize``, and every runtime then equals the reference fed as its own
pipeline feeds it (transformers: its feature extractor; fairseq: ``F.layer_norm`` of the wave)."""
import numpy as np
import pytest
import torch

from fairseq_format import write_checkpoint
from hf_reference import TOL, VOCAB, random_model, reference, save_folder, transformers
from edge_ssl.errors import EdgeSSLError
from edge_ssl.models.convert import import_teacher, save_teacher
from edge_ssl.models.store import load_model
from edge_ssl.runtime import open_runner

LARGE_STYLE = dict(feat_extract_norm="layer", do_stable_layer_norm=True, conv_bias=True)  # as LV-60


def quiet_offset_wave(n: int = 9000) -> np.ndarray:
    """Quiet speech-like level with a DC offset: raw and normalised input give very different outputs."""
    return (0.03 * np.random.default_rng(0).standard_normal(n) + 0.02).astype(np.float32)  # (S,)


def hf_ctc_folder(tmp_path, do_normalize: bool | None):
    """A random wav2vec2 CTC folder; ``do_normalize`` None: no preprocessor_config.json at all."""
    ref = random_model("wav2vec2", ctc=True, **LARGE_STYLE)
    folder = save_folder(ref, tmp_path / "hf", vocab=VOCAB)
    if do_normalize is not None:
        transformers.Wav2Vec2FeatureExtractor(do_normalize=do_normalize).save_pretrained(folder)
    return ref, folder


# edge-ssl's CTC rows: HF's blank (<pad>) first, the rest in order
BLANK_FIRST = [VOCAB.index("<pad>"), *[i for i, t in enumerate(VOCAB) if t != "<pad>"]]


def test_do_normalize_model_runs_in_every_runtime_as_transformers_with_its_feature_extractor(tmp_path):
    from edge_ssl.deploy.pipeline import ExportConfig, export_model

    ref_model, folder = hf_ctc_folder(tmp_path, do_normalize=True)
    model_file = tmp_path / "lv60_style.safetensors"
    save_teacher(import_teacher(folder), model_file)
    enc = load_model(model_file)[0].encoder.cfg
    assert (enc.normalize, enc.normalize_eps) == (True, 1e-7)  # the feature extractor's epsilon

    wave = quiet_offset_wave()
    fe = transformers.AutoFeatureExtractor.from_pretrained(folder)
    x = fe(wave, sampling_rate=16000, return_tensors="pt").input_values  # (1, S), normalised by transformers
    with torch.no_grad():
        expected = ref_model(x).logits[0].numpy()                         # (T, V)
        raw = ref_model(torch.from_numpy(wave)[None]).logits[0].numpy()
    assert np.abs(raw - expected).max() > 100 * TOL  # the input scaling matters for this wave

    expected = expected[:, BLANK_FIRST]
    cfg = ExportConfig(max_seconds=1.0, verify=False)
    artifacts = [export_model(model_file, tmp_path / f"m{suffix}", cfg).artifact for suffix in (".onnx", ".pte")]
    diffs = {}
    for path in (model_file, *artifacts):
        runner = open_runner(path)
        assert runner.meta.normalize == "utterance", path  # informational: the graph normalises, callers pass raw
        diffs[runner.backend] = float(np.abs(runner.run(wave) - expected).max())
    print("max |edge-ssl - transformers| per runtime:", diffs)
    assert max(diffs.values()) <= TOL, diffs

    from edge_ssl.models.convert import build_model
    from edge_ssl.models.convert.compare import verify_against_transformers

    t = import_teacher(folder)  # `edge-ssl import --verify` feeds transformers through its feature extractor too
    assert verify_against_transformers(folder, build_model(t), t.head_order, seconds=0.5).worst <= TOL


@pytest.mark.parametrize("do_normalize", [False, None])
def test_raw_input_models_stay_raw(tmp_path, do_normalize):
    ref_model, folder = hf_ctc_folder(tmp_path, do_normalize)
    t = import_teacher(folder)
    assert not t.encoder.normalize
    out = tmp_path / "m.safetensors"
    save_teacher(t, out)
    wave = quiet_offset_wave()
    _, ref_logits = reference(ref_model, torch.from_numpy(wave)[None])
    runner = open_runner(out)
    assert runner.meta.normalize == "none"
    assert np.abs(runner.run(wave) - ref_logits[0, :, BLANK_FIRST].numpy()).max() <= TOL


@pytest.mark.parametrize("bad,match", [('{"sampling_rate": 8000}', "sampling_rate 8000"),
                                       ('{"do_normalize": "yes"}', "do_normalize"), ("[1]", "JSON object"),
                                       ("{", "not valid JSON")])
def test_bad_preprocessor_config_is_named(tmp_path, bad, match):
    _, folder = hf_ctc_folder(tmp_path, do_normalize=True)
    (folder / "preprocessor_config.json").write_text(bad)
    with pytest.raises(EdgeSSLError, match=rf"preprocessor_config\.json.*{match}"):
        import_teacher(folder)


@pytest.mark.parametrize("form", ["dictconfig", "dict", "namespace"])
def test_fairseq_task_normalize_is_the_models(tmp_path, form):
    hf = random_model("data2vec-audio")
    pt = write_checkpoint(hf, tmp_path / "d2v.pt", form, normalize=True)
    out = tmp_path / "m.safetensors"
    save_teacher(import_teacher(pt), out)
    model, _ = load_model(out)
    assert (model.cfg.normalize, model.cfg.normalize_eps) == (True, 1e-5)  # fairseq: F.layer_norm's eps
    wave = torch.from_numpy(quiet_offset_wave())[None]
    ref_hidden, _ = reference(hf, torch.nn.functional.layer_norm(wave, wave.shape))  # fairseq's normalisation
    with torch.no_grad():
        got = model.extract_features(wave).hidden_states
    assert max(float((a - b).abs().max()) for a, b in zip(ref_hidden, got)) <= TOL
    assert not import_teacher(write_checkpoint(hf, tmp_path / "raw.pt", form)).encoder.normalize
