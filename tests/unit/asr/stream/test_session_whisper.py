"""The streaming recogniser on models with Whisper's front-end, whose frames are centred (frame t on sample
320 t, T = ceil((S // 160) / 2)): the chunked decoder must cut and align chunks by that geometry."""
import numpy as np
import pytest
import torch

from edge_ssl.asr.stream.session import ChunkedDecoder, StreamConfig, open_recognizer, recognizer_logits
from edge_ssl.asr.decode.tokenizer import CharTokenizer
from edge_ssl.models.ctc import CTCModel
from edge_ssl.models.speech_encoder import whisper
from edge_ssl.models.store import save_model


def frames(n: int) -> int:
    return -(-(n // 160) // 2)


def make_model(path, local=False):
    """A tiny Whisper-front-end CTC model. ``local``: no layers and a zero position table, so every output frame
    depends only on the audio around it (the 5 log-mel frames of the two convs, +-520 samples)."""
    torch.manual_seed(0)
    tok, cfg = CharTokenizer(), whisper(embed_dim=64, num_layers=0 if local else 2, num_heads=2)
    model = CTCModel(cfg, tok.vocab_size).eval()
    if local:
        with torch.no_grad():
            model.encoder.encoder.positions.weight.zero_()
    save_model(model, path, "ctc", {"encoder": cfg}, vocab=list(tok.tokens))
    return open_recognizer(path)



def test_recognizer_geometry_comes_from_the_model(tmp_path):
    rec = make_model(tmp_path / "w.safetensors")
    assert (rec.hop, rec.receptive_field, rec.min_samples) == (320, 160, 201)


@pytest.mark.parametrize("n", [16000, 16159, 16160, 16161, 24000 + 77, 32000 + 319])
def test_chunked_decoder_yields_every_frame(tmp_path_factory, n):
    rec = make_model(tmp_path_factory.mktemp("m") / "w.safetensors")
    x = np.random.RandomState(n).randn(n).astype(np.float32) * 0.1
    dec = ChunkedDecoder(rec, StreamConfig(mode="chunked", chunk=0.32, left_context=0.32, right_context=0.16))
    for m in range(0, n + 1, 1100):
        dec.advance(x[:m])
    out = dec.finish(x)
    assert out.shape == recognizer_logits(rec, x).shape == (frames(n), 29)


def test_chunked_frames_align_with_offline_on_a_local_model(tmp_path):
    """With >= 2 frames of context on each side (a frame sees +-520 samples), the chunked logits of a local model
    equal the offline ones frame for frame. The input, a 1 kHz cosine over a noise floor within 8 decades,
    keeps Whisper's (max - 8) clamp inactive, so no frame depends on the window's loudest frame."""
    rec = make_model(tmp_path / "local.safetensors", local=True)
    n = 3 * 16000 + 123
    t = np.arange(n) / 16000
    x = (0.5 * np.cos(2 * np.pi * 1000 * t) + 1e-3 * np.random.RandomState(0).randn(n)).astype(np.float32)
    dec = ChunkedDecoder(rec, StreamConfig(mode="chunked", chunk=0.32, left_context=0.064, right_context=0.064))
    for m in range(0, n + 1, 700):
        dec.advance(x[:m])
    assert len(dec.rows) > 5  # it really ran chunk by chunk
    offline = recognizer_logits(rec, x)
    np.testing.assert_allclose(dec.finish(x), offline, atol=1e-3)
    assert offline.shape[0] == frames(n)
