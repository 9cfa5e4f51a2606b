"""Tiny end-to-end: pretrain mae (and resume) -> embed a folder -> export the encoder (`edge-ssl export`)
and embed with it through its Runner."""
import json

import pytest
import torch
from PIL import Image
from typer.testing import CliRunner

from edge_ssl.cli import app
from edge_ssl.vision.builtin import load_digits

pytestmark = pytest.mark.e2e

TINY = ["model.encoder.image_size=16", "data.image_size=16", "model.encoder.patch_size=4", "model.encoder.embed_dim=32",
        "model.encoder.depth=1", "model.encoder.num_heads=2", "model.decoder_dim=32", "model.decoder_depth=1",
        "model.decoder_heads=2", "data.batch_size=32", "data.photo_crops=0", "train.log_every=1",
        "train.device=cpu"]


def invoke(args):
    result = CliRunner().invoke(app, [str(a) for a in args])
    assert result.exit_code == 0, result.output + repr(result.exception)
    return result.output


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("mae") / "run"
    invoke(["pretrain", "mae", "-c", "mae/tiny", f"out_dir={out}", "train.max_steps=2", *TINY])
    # resumes for one more step: a longer run is a changed config, which must be said explicitly
    invoke(["pretrain", "mae", "-c", "mae/tiny", f"out_dir={out}", "train.max_steps=3", "train.allow_config_change=true",
            *TINY])
    return out


def test_pretrain_writes_models_metrics_and_knn(trained):
    steps = [json.loads(ln)["step"] for ln in (trained / "metrics.jsonl").read_text().splitlines()]
    assert steps == [1, 2, 3]  # the second run resumed at step 2
    for name in ("mae.safetensors", "encoder.safetensors", "loss.png", "config.yaml", "checkpoint.pt"):
        assert (trained / name).is_file(), name
    knn = json.loads((trained / "knn.json").read_text())
    assert 0.1 < knn["knn_top1"] <= 1.0


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("digits")
    test = load_digits("test", 1)
    for i in range(0, 1000, 25):  # 40 digits, 4 per class
        d = root / f"digit{test.labels[i]}"
        d.mkdir(exist_ok=True)
        Image.fromarray(test.images[i][:, :, 0]).save(d / f"{i}.png")
    (root / "digit0" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    return root


def test_embed_folder_and_exported_encoder_agree(trained, folder, tmp_path):
    out1 = tmp_path / "eager"
    text = invoke(["embed", trained / "mae.safetensors", "--images", folder, "--out", out1, "--baseline", "random"])
    assert "k-NN top-1" in text and "random init" in text
    for name in ("retrieval.png", "pca.png", "reconstructions.png", "results.json", "table.md"):
        assert (out1 / name).is_file(), name
    eager = json.loads((out1 / "results.json").read_text())
    assert len(eager["unreadable"]) == 1 and "broken.png" in eager["unreadable"][0]

    onnx = tmp_path / "enc.onnx"
    text = invoke(["export", "onnx", trained / "encoder.safetensors", "--out", onnx])
    assert "vs eager" in text and "PASS" in text and "FAIL" not in text
    index = json.loads((tmp_path / "enc.onnx.golden" / "index.json").read_text())
    assert index["items"][0]["input_shape"] == [3, 16, 16]
    out2 = tmp_path / "onnx"
    invoke(["embed", onnx, "--images", folder, "--out", out2, "--no-probe"])
    via_onnx = json.loads((out2 / "results.json").read_text())
    assert via_onnx["scores"]["model"]["knn_top1"] == pytest.approx(eager["scores"]["model"]["knn_top1"])


def test_embed_empty_folder_is_a_clear_error(trained, tmp_path):
    (tmp_path / "empty").mkdir()
    result = CliRunner().invoke(app, ["embed", str(trained / "encoder.safetensors"), "--images",
                                      str(tmp_path / "empty"), "--out", str(tmp_path / "o")])
    assert result.exit_code != 0 and "no image files" in str(result.exception)


@pytest.mark.slow
def test_export_pte_verifies_with_one_xnnpack_partition(trained, tmp_path):
    text = invoke(["export", "executorch", trained / "mae.safetensors", "--out", tmp_path / "enc.pte"])
    assert "1 XNNPACK partition(s)" in text and "FAIL" not in text
    assert "PASS" in invoke(["verify", tmp_path / "enc.pte"])


@pytest.mark.slow
def test_tiny_config_beats_random_init_on_held_out_digits(tmp_path):
    """The full CPU recipe (~5 min on 2 idle cores): k-NN of the MAE encoder well above random init."""
    from edge_ssl.models.vit import ViT
    from edge_ssl.vision.evaluate import evaluate_digits
    from edge_ssl.vision.model_io import load_vision_model

    out = tmp_path / "tiny"
    invoke(["pretrain", "mae", "-c", "mae/tiny", f"out_dir={out}", "eval_knn=false"])
    vit, _, _ = load_vision_model(out / "encoder.safetensors")
    torch.manual_seed(0)
    mae, rnd = evaluate_digits(vit, probe=False), evaluate_digits(ViT(vit.cfg), probe=False)
    assert mae["knn_top1"] > rnd["knn_top1"] + 0.10
