import pytest
import torch

from edge_ssl.models.speech_encoder import SIZES, build_encoder, encoder_config, tiny, tiny_logmel


@pytest.mark.parametrize("mode,pre_ln,depth,frontend", [("group_norm", False, 1, "conv"), ("layer_norm", True, 1, "conv"),
                                                       ("layer_norm", False, 3, "conv"), ("group_norm", True, 1, "logmel")])
def test_padded_batch_equals_single(mode, pre_ln, depth, frontend):
    torch.manual_seed(0)
    size = tiny_logmel if frontend == "logmel" else tiny
    m = build_encoder(size(extractor_mode=mode, layer_norm_first=pre_ln, pos_conv_depth=depth,
                           pos_conv_kernel=16 if depth == 1 else 5)).eval()
    lengths = torch.tensor([16000, 9000, 4000])
    wave = torch.randn(3, 16000) * (torch.arange(16000)[None] < lengths[:, None])
    with torch.no_grad():
        batch = m.extract_features(wave, lengths)
        for i in range(3):
            one = m.extract_features(wave[i:i + 1, : lengths[i]])
            T = one.last_hidden_state.shape[1]
            assert T == int(m.frame_lengths(lengths[i:i + 1]))
            assert batch.pad_mask[i, :T].logical_not().all() and batch.pad_mask[i, T:].all()
            for a, b in zip(batch.hidden_states, one.hidden_states):
                torch.testing.assert_close(a[i, :T], b[0], atol=1e-4, rtol=1e-4)


def test_shapes_and_interface():
    m = build_encoder(tiny()).eval()
    out = m.extract_features(torch.randn(2, 16000), num_layers=1)
    assert len(out.hidden_states) == 2 and out.last_hidden_state.shape == (2, 49, 64)
    assert out.pad_mask is None and m.downsample_rate == 320 and m.receptive_field == 400


def test_frame_mask_uses_mask_embedding():
    m = build_encoder(tiny()).eval()
    wave = torch.randn(1, 8000)
    mask = torch.zeros(1, 24, dtype=torch.bool)
    mask[0, 5:10] = True
    a = m.extract_features(wave).hidden_states[-1]
    b = m.extract_features(wave, frame_mask=mask).hidden_states[-1]
    assert not torch.allclose(a, b)


def test_fold_weight_norm_keeps_outputs():
    m = build_encoder(tiny()).eval()
    wave = torch.randn(1, 8000)
    ref = m(wave)
    torch.testing.assert_close(m.fold_for_inference()(wave), ref)
    assert not any("parametrizations" in k for k in m.state_dict())


@pytest.mark.parametrize("size,params", [("base", 94.37), ("distilhubert", 23.49), ("large", 315.44)])
def test_size_builders(size, params):
    cfg = encoder_config(size)
    with torch.device("meta"):
        m = build_encoder(cfg)
    assert abs(sum(p.numel() for p in m.parameters()) / 1e6 - params) < 0.05
    assert set(SIZES) >= {"base", "large", "distilhubert", "tiny"}
