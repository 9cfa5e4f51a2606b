import pytest

from edge_ssl.errors import EdgeSSLError
from edge_ssl.runtime.meta import ArtifactMeta

META = ArtifactMeta(model_name="m", model_version="0.1.0+abc", output="logits", output_dim=3, min_samples=800,
                    max_samples=16000, tokens=("<blk>", "|", "a"), precision="int8-static")


def test_round_trips_through_strings_and_constant_methods():
    assert ArtifactMeta.from_values(META.to_strings(), "x.onnx") == META
    assert ArtifactMeta.from_values(META.to_constant_methods(), "x.pte") == META
    assert META.to_constant_methods()["vocab_size"] == 3


def test_missing_and_malformed_keys_name_the_key():
    values = META.to_strings()
    del values["max_samples"]
    with pytest.raises(EdgeSSLError, match="x.onnx.*'max_samples'"):
        ArtifactMeta.from_values(values, "x.onnx")
    with pytest.raises(EdgeSSLError, match="'min_samples' is malformed"):
        ArtifactMeta.from_values({**META.to_strings(), "min_samples": "lots"}, "x.onnx")
    with pytest.raises(EdgeSSLError, match="tokens for 4 logits"):
        ArtifactMeta.from_values({**META.to_strings(), "output_dim": "4"}, "x.onnx")


def test_frame_count_matches_the_conv_stack():
    import torch

    from edge_ssl.models.speech_encoder import SpeechEncoder, tiny

    enc = SpeechEncoder(tiny())
    for n in (400, 719, 720, 16000, 16319, 160000):
        assert META.num_frames(n) == int(enc.frame_lengths(torch.tensor([n]))[0])


IMAGE = ArtifactMeta(model_name="vit", model_version="0.1.0+abc", output="features", output_dim=32, min_samples=0,
                     max_samples=0, task="image-encoder", image_size=16, in_chans=3, mean=(0.485, 0.456, 0.406),
                     std=(0.229, 0.224, 0.225))


def test_image_meta_round_trips_and_speech_task_is_inferred():
    assert ArtifactMeta.from_values(IMAGE.to_strings(), "v.onnx") == IMAGE
    assert ArtifactMeta.from_values(IMAGE.to_constant_methods(), "v.pte") == IMAGE
    assert IMAGE.is_image and IMAGE.image_shape == (3, 16, 16) and IMAGE.embed_dim == 32
    older = {k: v for k, v in META.to_strings().items() if k != "task"}  # written before ``task`` existed
    assert ArtifactMeta.from_values(older, "x.onnx").task == "speech-ctc"


def test_bad_image_meta_names_the_problem():
    with pytest.raises(EdgeSSLError, match="v.onnx.*mean/std need 3 values"):
        ArtifactMeta.from_values({**IMAGE.to_strings(), "mean": "[0.5]"}, "v.onnx")
    with pytest.raises(EdgeSSLError, match="task 'video' is not one of"):
        ArtifactMeta.from_values({**IMAGE.to_strings(), "task": "video"}, "v.onnx")
