"""The ViT image encoder through the shared pipeline: export -> real ExecuTorch / ONNX Runtime -> verify."""
import json

import numpy as np
import pytest
import torch

from edge_ssl.deploy.golden import golden_dir, read_golden
from edge_ssl.deploy.pipeline import ExportConfig, export_model
from edge_ssl.deploy.verify import verify_artifact
from edge_ssl.errors import EdgeSSLError
from edge_ssl.methods.mae import MAEConfig, MaskedAutoencoder
from edge_ssl.models.vit import ViT, ViTConfig
from edge_ssl.runtime import open_runner
from edge_ssl.vision.model_io import save_mae, save_vit

CFG = ViTConfig(image_size=16, patch_size=4, in_chans=3, embed_dim=32, depth=1, num_heads=2)


@pytest.fixture(scope="module")
def vit_file(tmp_path_factory):
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("vit") / "vit_tiny.safetensors"
    save_vit(ViT(CFG), path)
    return path


@pytest.fixture(scope="module")
def artifacts(vit_file):
    out = {}
    for suffix in (".pte", ".onnx"):
        out[suffix] = export_model(vit_file, vit_file.with_suffix(suffix), ExportConfig(threads=1))
    return out


def image(seed=1):
    return np.random.default_rng(seed).standard_normal((3, 16, 16)).astype(np.float32)  # (C, S, S)


def test_eager_runner_runs_a_vit_file(vit_file):
    r = open_runner(vit_file)
    assert (r.meta.task, r.meta.image_shape, r.meta.embed_dim) == ("image-encoder", (3, 16, 16), 32)
    out = r.run(image())
    assert out.shape == (32,) and out.dtype == np.float32
    np.testing.assert_array_equal(r.run(image()[None]), out)  # (1, C, S, S) is the same image


@pytest.mark.parametrize("suffix", [".pte", ".onnx"])
def test_artifact_carries_image_metadata_and_matches_eager(vit_file, artifacts, suffix):
    res = artifacts[suffix]
    assert res.passed and res.precision == "fp32"
    if suffix == ".pte":
        assert res.partitions.startswith("1 XNNPACK partition")  # the whole ViT is delegated
    r = open_runner(res.artifact)
    m = r.meta
    assert (m.task, m.output, m.image_size, m.in_chans, m.output_dim) == ("image-encoder", "features", 16, 3, 32)
    assert m.mean == pytest.approx((0.485, 0.456, 0.406)) and m.std == pytest.approx((0.229, 0.224, 0.225))
    np.testing.assert_allclose(r.run(image()), open_runner(vit_file).run(image()), atol=1e-4)


@pytest.mark.parametrize("suffix", [".pte", ".onnx"])
def test_wrong_image_shape_is_a_clear_error(artifacts, suffix):
    r = open_runner(artifacts[suffix].artifact)
    for bad in (np.zeros((3, 32, 32), np.float32), np.zeros((1, 16, 16), np.float32), np.zeros(16000, np.float32)):
        with pytest.raises(EdgeSSLError, match=r"expected one normalised image of shape \(3, 16, 16\)"):
            r.run(bad)
    with pytest.raises(EdgeSSLError, match="NaN"):
        r.run(np.full((3, 16, 16), np.nan, np.float32))


def test_golden_vectors_keep_the_image_shape_and_verify(artifacts):
    art = artifacts[".onnx"].artifact
    index = json.loads((golden_dir(art) / "index.json").read_text())
    assert index["items"][0]["input_shape"] == [3, 16, 16] and index["items"][0]["shape"] == [32]
    _, items = read_golden(art)
    assert items[0].wave.shape == (3, 16, 16) and items[0].expected.shape == (32,)
    reports = verify_artifact(art)  # eager (source model from the index) and golden
    assert [r.reference.split()[0] for r in reports] == ["eager", "golden"] and all(r.passed for r in reports)


def test_onnx_dynamic_int8_and_pte_int8_is_refused(vit_file, tmp_path):
    res = export_model(vit_file, tmp_path / "q.onnx", ExportConfig(quant="dynamic", threads=1))
    assert res.passed and open_runner(res.artifact).meta.precision == "int8-dynamic"
    for quant in ("static", "dynamic"):
        with pytest.raises(EdgeSSLError, match="int8 .pte is not supported for an image encoder"):
            export_model(vit_file, tmp_path / "q.pte", ExportConfig(quant=quant))


def test_mae_file_exports_its_encoder(tmp_path):
    torch.manual_seed(0)
    mae = MaskedAutoencoder(MAEConfig(encoder=CFG, decoder_dim=32, decoder_depth=1, decoder_heads=2))
    path = tmp_path / "mae.safetensors"
    save_mae(mae, path)
    r = open_runner(path)
    with torch.no_grad():
        ref = mae.encoder.eval().features(torch.from_numpy(image())[None])[0].numpy()
    np.testing.assert_allclose(r.run(image()), ref, atol=1e-6)
