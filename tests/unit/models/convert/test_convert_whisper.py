"""Whisper encoders -> edge-ssl: the log-mel equals transformers' WhisperFeatureExtractor, and every hidden state
equals transformers' WhisperEncoder, on small random WhisperConfigs (front-end and encoder compared apart).

Hidden-state convention: [0] conv output + positions, [i] layer i's output, the last after the final LayerNorm
(transformers' ``last_hidden_state``), as verify.py compares them.
"""
import dataclasses
import json
import sys

import numpy as np
import pytest
import torch

from edge_ssl.errors import EdgeSSLError
from edge_ssl.models.convert import build_model, import_teacher, import_to_file, save_teacher
from edge_ssl.models.speech_encoder import SpeechEncoder, whisper
from edge_ssl.models.store import load_model
from edge_ssl.models.whisper_frontend import WhisperLogMel

transformers = pytest.importorskip("transformers")

TOL = 1e-4
DECODER = dict(decoder_layers=1, decoder_attention_heads=2, decoder_ffn_dim=16, vocab_size=64, max_target_positions=8,
               pad_token_id=0, bos_token_id=1, eos_token_id=2, decoder_start_token_id=3)
CASES = {
    # name: (WhisperConfig encoder fields, class, weights format)
    "narrow_80mels": (dict(d_model=48, encoder_layers=2, encoder_attention_heads=4, encoder_ffn_dim=96,
                           num_mel_bins=80, max_source_positions=40), "WhisperModel", "safetensors"),
    "wide_128mels": (dict(d_model=64, encoder_layers=3, encoder_attention_heads=8, encoder_ffn_dim=160,
                          num_mel_bins=128, max_source_positions=32), "WhisperForConditionalGeneration", "bin"),
    "deep_3heads": (dict(d_model=36, encoder_layers=4, encoder_attention_heads=3, encoder_ffn_dim=72,
                         num_mel_bins=80, max_source_positions=24), "WhisperForConditionalGeneration", "safetensors"),
}


def random_whisper(name, seed=0):
    """A transformers Whisper model with every parameter perturbed (positions, norms, biases all matter)."""
    fields, cls, _ = CASES[name]
    torch.manual_seed(seed)
    transformers.logging.set_verbosity_error()
    model = getattr(transformers, cls)(transformers.WhisperConfig(**fields, **DECODER)).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.1)
    return model


def save(model, folder, fmt):
    model.save_pretrained(folder)
    if fmt == "bin":
        (folder / "model.safetensors").unlink()
        torch.save(model.state_dict(), folder / "pytorch_model.bin")
    return folder


def hf_encoder(model):
    return model.model.encoder if hasattr(model, "model") else model.encoder


def hf_hidden(model, feats):
    with torch.no_grad():
        out = hf_encoder(model)(feats, output_hidden_states=True)
    return list(out.hidden_states[:-1]) + [out.last_hidden_state]


def speech_like(seconds, seed=0):
    """Noise, a tone, a loud burst and a quiet stretch: a dynamic range that exercises the (max - 8) clamp."""
    g = torch.Generator().manual_seed(seed)
    n = int(16000 * seconds)
    t = torch.arange(n) / 16000
    wave = 0.02 * torch.randn(n, generator=g) + 0.2 * torch.sin(2 * np.pi * 330 * t) * (t < seconds / 2)
    wave[n // 3: n // 3 + 2000] *= 8.0
    wave[-n // 5:] *= 1e-4
    return wave.float()


def max_diffs(ref, got):
    assert len(ref) == len(got), (len(ref), len(got))
    return [float((a - b).abs().max()) for a, b in zip(ref, got)]


@pytest.mark.parametrize("n_mels", [80, 128])
def test_logmel_matches_feature_extractor(n_mels):
    """Ours on the clip alone vs transformers on the clip padded to 30 s (Whisper's way), first S // 160 frames."""
    fe = transformers.WhisperFeatureExtractor(feature_size=n_mels)
    wave = speech_like(2.3)
    ref = fe(wave.numpy(), sampling_rate=16000, return_tensors="np").input_features[0]   # (M, 3000)
    with torch.no_grad():
        got = WhisperLogMel(n_mels)(wave[None, None])[0].numpy()                        # (M, S // 160)
    assert got.shape == (n_mels, len(wave) // 160)
    assert np.abs(got - ref[:, :got.shape[1]]).max() <= TOL


def test_logmel_padded_batch_equals_each_clip():
    lengths = torch.tensor([32000, 20500])
    waves = [speech_like(2.0, seed=1), speech_like(20500 / 16000, seed=2)]
    batch = torch.zeros(2, 32000)
    batch[0], batch[1, :20500] = waves[0], waves[1]
    batch[1, 20500:] = 5.0  # garbage past the end must not leak in
    m = WhisperLogMel(80)
    with torch.no_grad():
        out = m(batch[:, None], lengths)
        for i, w in enumerate(waves):
            alone = m(w[None, None])[0]
            torch.testing.assert_close(out[i, :, :alone.shape[1]], alone, atol=1e-5, rtol=0)


@pytest.mark.parametrize("name", list(CASES))
def test_encoder_matches_transformers_on_the_same_features(tmp_path, name):
    ref = random_whisper(name)
    t = import_teacher(save(ref, tmp_path / name, CASES[name][2]))
    assert t.family == "whisper" and t.kind == "speech_encoder"
    model = build_model(t)
    frames = 2 * CASES[name][0]["max_source_positions"]  # transformers insists on the full window
    feats = torch.randn(2, CASES[name][0]["num_mel_bins"], frames, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        x = feats
        for block in model.feature_extractor.conv_layers:
            x = block(x)                                                        # (B, C, T)
        hidden, _ = model.contextualise(model.embed(x.transpose(1, 2)))       # (B, T, C) each
    diffs = max_diffs(hf_hidden(ref, feats), hidden)
    assert max(diffs) <= TOL, diffs


@pytest.mark.parametrize("name", list(CASES))
def test_saved_model_from_wave_matches_transformers(tmp_path, name):
    """End to end: a clip followed by silence to the model's full window through both pipelines, via the
    saved file (load_model)."""
    ref = random_whisper(name)
    fields = CASES[name][0]
    out = tmp_path / "whisper.safetensors"
    save_teacher(import_teacher(save(ref, tmp_path / name, CASES[name][2])), out)
    model, meta = load_model(out)
    assert isinstance(model, SpeechEncoder) and meta["family"] == "whisper"
    samples = 2 * fields["max_source_positions"] * 160
    wave = torch.zeros(1, samples)
    wave[0, : samples // 2] = speech_like(samples / 2 / 16000)
    fe = transformers.WhisperFeatureExtractor(feature_size=fields["num_mel_bins"], chunk_length=1)
    feats = torch.from_numpy(fe(wave[0].numpy(), sampling_rate=16000, padding="max_length", max_length=samples,
                                return_tensors="np").input_features)             # (1, M, 2P)
    with torch.no_grad():
        got = model.extract_features(wave).hidden_states
    diffs = max_diffs(hf_hidden(ref, feats), got)
    assert max(diffs) <= TOL, diffs
    assert got[-1].shape[1] == fields["max_source_positions"]


def test_default_pads_to_the_window_like_whisper(tmp_path):
    """Default import: the clip plus silence to the whole window, cropped = transformers on the padded input,
    cropped; ceil((S // 160) / 2) frames at 50 Hz."""
    ref = random_whisper("narrow_80mels")
    model = build_model(import_teacher(save(ref, tmp_path / "hf", "safetensors")))
    assert model.cfg.pad_to_frames == 40
    window = 2 * 40 * 160
    clip = speech_like(0.47)
    frames = -(-(len(clip) // 160) // 2)
    padded = torch.zeros(1, window)
    padded[0, : len(clip)] = clip
    fe = transformers.WhisperFeatureExtractor(feature_size=80, chunk_length=1)
    feats = torch.from_numpy(fe(padded[0].numpy(), sampling_rate=16000, padding="max_length", max_length=window,
                                return_tensors="np").input_features)
    with torch.no_grad():
        got = model.extract_features(clip[None]).hidden_states
    assert got[-1].shape[1] == frames == int(model.frame_lengths(torch.tensor([len(clip)]))[0])
    assert max(max_diffs([h[:, :frames] for h in hf_hidden(ref, feats)], got)) <= TOL


@pytest.mark.parametrize("pad_to", [None, 0.0, 0.3])
def test_padded_batch_equals_each_clip_alone(tmp_path, pad_to):
    """Whatever the padding (window, none, 0.3 s: shorter than one clip, longer than the other), a padded batch
    gives each row its result alone, with garbage past each clip's end ignored."""
    folder = save(random_whisper("narrow_80mels"), tmp_path / "hf", "safetensors")
    model = build_model(import_teacher(folder, pad_to=pad_to))
    lengths = torch.tensor([7520, 3300, 7000])                      # 0.47 s, 0.21 s, 0.44 s
    clips = [speech_like(n / 16000, seed=i) for i, n in enumerate(lengths.tolist())]
    batch = torch.full((3, 7520), 3.0)
    for i, c in enumerate(clips):
        batch[i, : len(c)] = c
    with torch.no_grad():
        out = model.extract_features(batch, lengths)
        frames = model.frame_lengths(lengths)
        assert out.pad_mask.shape == (3, int(frames.max())) and (~out.pad_mask).sum(1).tolist() == frames.tolist()
        for i, c in enumerate(clips):
            alone = model.extract_features(c[None]).hidden_states
            t = alone[-1].shape[1]
            assert t == int(frames[i])
            assert max(max_diffs(alone, [h[i:i + 1, :t] for h in out.hidden_states])) <= TOL, (i, pad_to)


def test_pad_to_out_of_range_or_not_whisper(tmp_path):
    folder = save(random_whisper("narrow_80mels"), tmp_path / "hf", "safetensors")
    with pytest.raises(EdgeSSLError, match="--pad-to 1 s is outside 0..0.8 s"):
        import_teacher(folder, pad_to=1.0)
    with pytest.raises(EdgeSSLError, match="--pad-to is for Whisper encoders"):
        import_to_file(tmp_path / "nowhere", tmp_path / "x.safetensors", pad_to=10.0)


def test_whisper_config_keeps_the_other_encoders_unchanged():
    """New options default off; a Whisper config's state_dict has no positional conv and no projection."""
    base_names = set(SpeechEncoder(dataclasses.replace(whisper(embed_dim=32, num_heads=2, num_layers=1),
                                                       max_positions=8)).state_dict())
    assert "encoder.positions.weight" in base_names
    assert not any(k.startswith(("encoder.pos_conv", "feature_projection")) for k in base_names)
    assert "feature_extractor.conv_layers.0.conv.bias" in base_names
    with pytest.raises(ValueError, match="positions"):
        SpeechEncoder(whisper(embed_dim=32, num_heads=2, num_layers=1, max_positions=4))(torch.zeros(1, 16000))


def test_cli_import_and_verify(tmp_path, monkeypatch, capsys):
    from edge_ssl.cli import main

    folder = save(random_whisper("deep_3heads"), tmp_path / "hf", "safetensors")
    out = tmp_path / "teacher.safetensors"
    monkeypatch.setattr(sys, "argv", ["edge-ssl", "import", str(folder), "--out", str(out), "--verify"])
    with pytest.raises(SystemExit) as e:
        main()
    printed = capsys.readouterr().out
    assert e.value.code in (0, None), printed
    assert "whisper speech_encoder: 4 layers x 36" in printed and "max |diff|" in printed
    model, meta = load_model(out)
    assert meta["family"] == "whisper" and model.cfg.frontend == "whisper"


def test_unsupported_and_broken_folders_are_named(tmp_path):
    folder = save(random_whisper("narrow_80mels"), tmp_path / "hf", "safetensors")
    cfg = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**cfg, "activation_function": "relu"}))
    with pytest.raises(EdgeSSLError, match="activation_function"):
        import_teacher(folder)
    (folder / "config.json").write_text(json.dumps(cfg))
    (folder / "model.safetensors").unlink()
    with pytest.raises(EdgeSSLError, match="no model.safetensors or pytorch_model.bin"):
        import_teacher(folder)
