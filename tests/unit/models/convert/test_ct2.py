"""CTranslate2 model.bin reading (ct2.py) and Whisper import from CTranslate2 folders.

The format tests write files with a small writer here; the import tests convert random transformers Whisper
models with ctranslate2's own converter (skipped without ctranslate2); the slow test compares the shipped
Whisper base and tiny.en with ctranslate2's encoder:

    .venv/bin/python -m pytest -m slow -s tests/unit/models/convert/test_ct2.py
"""
import struct

import numpy as np
import pytest
import torch

from edge_ssl.errors import EdgeSSLError
from edge_ssl.models.convert import build_model, import_teacher, import_to_file
from edge_ssl.models.convert.ct2 import read_ct2
from edge_ssl.models.store import load_model

CODES = {np.dtype(np.float32): 0, np.dtype(np.int8): 1, np.dtype(np.int16): 2, np.dtype(np.int32): 3,
         np.dtype(np.float16): 4}


def _string(s):
    raw = s.encode() + b"\0"
    return struct.pack("<H", len(raw)) + raw


def write_ct2(path, variables, spec="WhisperSpec", aliases=(), version=6, bf16=()):
    """CTranslate2's layout: header, named tensors, aliases. ``bf16`` names are written as bfloat16 (code 5)."""
    out = struct.pack("<I", version) + _string(spec) + struct.pack("<II", 3, len(variables))
    for name, value in variables.items():
        value = np.asarray(value)
        code = CODES[value.dtype]
        if name in bf16:
            value, code = (value.astype(np.float32).view(np.uint32) >> 16).astype(np.uint16), 5
        out += _string(name) + struct.pack("<B", value.ndim) + struct.pack(f"<{value.ndim}I", *value.shape)
        out += struct.pack("<BI", code, value.nbytes) + value.tobytes()
    out += struct.pack("<I", len(aliases))
    for alias, target in aliases:
        out += _string(alias) + _string(target)
    path.write_bytes(out)
    return path


def test_reads_names_shapes_dtypes_scalars_and_aliases(tmp_path):
    rng = np.random.default_rng(0)
    w16 = rng.standard_normal((6, 4)).astype(np.float16)
    w32 = rng.standard_normal((3,)).astype(np.float32)
    path = write_ct2(tmp_path / "model.bin", {
        "encoder/num_heads": np.array(8, np.int16), "decoder/activation": np.array(3, np.int8),
        "a/weight": w16, "b/bias": w32, "c/bf": np.array([1.5, -2.0, 3.25], np.float32),
        "q/weight": np.ones((2, 2), np.int8)}, aliases=[("tied/weight", "a/weight")], bf16=("c/bf",))
    (tmp_path / "config.json").write_text('{"suppress_ids": [1, 2]}')
    m = read_ct2(tmp_path)
    assert (m.spec, m.revision, m.config) == ("WhisperSpec", 3, {"suppress_ids": [1, 2]})
    assert m.scalar("encoder/num_heads") == 8 and m.scalar("decoder/activation") == 3
    assert m.get("a/weight").dtype == np.float16 and np.array_equal(m.get("a/weight"), w16)
    assert np.array_equal(m.float32("tied/weight"), w16.astype(np.float32))
    assert np.array_equal(m.float32("b/bias"), w32)
    assert np.array_equal(m.float32("c/bf"), [1.5, -2.0, 3.25])  # exact in bfloat16
    with pytest.raises(EdgeSSLError, match="q/weight is int8-quantized"):
        m.float32("q/weight")
    with pytest.raises(EdgeSSLError, match="no variable 'missing'"):
        m.get("missing")


def test_broken_files_are_named(tmp_path):
    good = write_ct2(tmp_path / "good.bin", {"x": np.zeros((4, 4), np.float32)}).read_bytes()
    (tmp_path / "trunc.bin").write_bytes(good[:-20])
    with pytest.raises(EdgeSSLError, match="trunc.bin: truncated"):
        read_ct2(tmp_path / "trunc.bin")
    write_ct2(tmp_path / "v2.bin", {"x": np.zeros(2, np.float32)}, version=2)
    with pytest.raises(EdgeSSLError, match="binary version 2"):
        read_ct2(tmp_path / "v2.bin")
    bad = bytearray(good)
    bad[bad.index(b"x\0") + 2 + 1 + 8] = 9  # the dtype byte after name, rank and two dims
    (tmp_path / "dtype.bin").write_bytes(bytes(bad))
    with pytest.raises(EdgeSSLError, match="'x' has unknown CTranslate2 dtype id 9"):
        read_ct2(tmp_path / "dtype.bin")
    write_ct2(tmp_path / "alias.bin", {"x": np.zeros(2, np.float32)}, aliases=[("y", "nope")])
    with pytest.raises(EdgeSSLError, match="alias 'y' points at unknown variable 'nope'"):
        read_ct2(tmp_path / "alias.bin")
    with pytest.raises(EdgeSSLError, match="no CTranslate2 model.bin"):
        read_ct2(tmp_path / "nowhere")


def test_other_ct2_specs_are_refused(tmp_path):
    write_ct2(tmp_path / "model.bin", {"encoder/num_heads": np.array(8, np.int16)}, spec="TransformerSpec")
    with pytest.raises(EdgeSSLError, match="TransformerSpec model; only WhisperSpec"):
        import_teacher(tmp_path)


# ---- Whisper from CTranslate2 folders written by ctranslate2's own converter ----

@pytest.fixture(scope="module")
def converted(tmp_path_factory):
    """A random transformers Whisper and its CTranslate2 conversions (float32 and float16)."""
    ctranslate2 = pytest.importorskip("ctranslate2")
    from test_convert_whisper import random_whisper, save

    root = tmp_path_factory.mktemp("ct2")
    ref = random_whisper("wide_128mels")
    hf = save(ref, root / "hf", "safetensors")
    out = {}
    for q in ("float32", "float16"):
        conv = ctranslate2.converters.TransformersConverter(str(hf))
        out[q] = conv.convert(str(root / q), quantization=q, force=True)
    return ref, out


def test_ct2_float32_import_matches_transformers_on_every_layer(converted, tmp_path):
    from test_convert_whisper import TOL, hf_hidden, max_diffs

    ref, folders = converted
    teacher = import_teacher(folders["float32"])
    assert teacher.family == "whisper" and teacher.encoder.n_mels == 128 and teacher.encoder.num_layers == 3
    model = build_model(teacher)
    feats = torch.randn(1, 128, 64, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        x = feats
        for block in model.feature_extractor.conv_layers:
            x = block(x)
        hidden, _ = model.encoder(x.transpose(1, 2))
    assert max(max_diffs(hf_hidden(ref, feats), hidden)) <= TOL


def test_ct2_float16_import_matches_ctranslate2_and_verifies(converted, tmp_path, capsys):
    """fp16 weights widened to fp32: ctranslate2's encoder (fp32 on CPU) on the same weights agrees closely;
    --verify runs that check and the file loads back."""
    _, folders = converted
    out = tmp_path / "w.safetensors"
    teacher, _, check = import_to_file(folders["float16"], out, verify=True)
    assert len(check.layer_max_abs_diff) == 1 and check.worst <= 1e-4, check
    model, meta = load_model(out)
    assert meta["family"] == "whisper" and meta["imported_from"] == str(folders["float16"])
    assert model.encoder.positions.weight.shape == (32, 64)


# ---- the shipped models (slow) ----

@pytest.mark.slow
@pytest.mark.parametrize("name", ["tiny.en", "base"])
def test_shipped_whisper_matches_ctranslate2(name, speech_manifest, tmp_path):
    pytest.importorskip("ctranslate2")
    from edge_ssl.asr.evaluate.whisper_models import whisper_model_dir
    from edge_ssl.audio.io import load_audio
    from edge_ssl.data.manifest import read_manifest
    from edge_ssl.models.convert.whisper import ct2_encode

    try:
        folder = whisper_model_dir(name)
    except EdgeSSLError as e:
        pytest.skip(str(e))
    out = tmp_path / f"{name}.safetensors"
    import_to_file(f"whisper:{name}", out)
    model, _ = load_model(out)
    clip = torch.from_numpy(load_audio(read_manifest(speech_manifest)[0].audio_path)).float()
    wave = torch.zeros(1, 480000)
    wave[0, : len(clip)] = clip                                              # Whisper's 30-s window
    with torch.no_grad():
        feats = model.feature_extractor.logmel(wave[:, None])                  # (1, 80, 3000)
        got = model.extract_features(wave).last_hidden_state[0].numpy()      # (1500, C)
    ref = ct2_encode(folder, feats.numpy())[0]
    diff = float(np.abs(ref - got).max())
    cos = (ref * got).sum(-1) / (np.linalg.norm(ref, axis=-1) * np.linalg.norm(got, axis=-1))
    print(f"\nWhisper {name} vs ctranslate2 (CPU, fp16 weights): max |diff| {diff:.2e} "
          f"(|ref| max {np.abs(ref).max():.1f}), cosine min {cos.min():.7f} mean {cos.mean():.7f}")
    assert diff <= 5e-3 and cos.min() >= 0.9999
