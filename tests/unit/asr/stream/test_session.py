"""The streaming session on a TTS dialogue with a tiny random-weight CTC model.

What matters is not what the random model says but that the stream says exactly what offline
transcription of the same segments says, wherever the chunk boundaries fall.
"""
import numpy as np
import pytest
import torch

from edge_ssl.asr.stream.segment import Segmenter, segment_wave
from edge_ssl.data.tts import build_dialogue
from edge_ssl.asr.stream.session import (ChunkedDecoder, Final, Partial, StreamConfig, StreamingSession, open_recognizer,
                                 recognizer_logits, transcribe_wave)
from edge_ssl.asr.decode.tokenizer import CharTokenizer
from edge_ssl.asr.stream.vad import SileroVad
from edge_ssl.models.ctc import CTCModel
from edge_ssl.models.speech_encoder import tiny
from edge_ssl.models.store import save_model

TEXTS = ["good morning everyone", "the train leaves at nine", "see you later"]
GAPS = [0.5, 0.9, 1.1, 0.6]


def make_model(path, **overrides):
    torch.manual_seed(0)
    tok, cfg = CharTokenizer(), tiny(**overrides)
    save_model(CTCModel(cfg, tok.vocab_size), path, "ctc", cfg, vocab=list(tok.tokens))
    return open_recognizer(path)



@pytest.fixture(scope="module")
def rec(tmp_path_factory):
    return make_model(tmp_path_factory.mktemp("m") / "tiny.safetensors")


@pytest.fixture(scope="module")
def dialogue():
    return build_dialogue(TEXTS, GAPS)


def stream(rec, wave, chunk, cfg=None, endpoint_cfg=None):
    sess = StreamingSession(rec, Segmenter(SileroVad(), endpoint_cfg=endpoint_cfg), cfg)
    events = []
    for i in range(0, len(wave), chunk):
        events += sess.accept(wave[i:i + chunk])
    events += sess.finish()
    return sess, events


@pytest.mark.parametrize("chunk", [160, 4800])
def test_finals_equal_offline_transcription_of_the_same_segments(rec, dialogue, chunk):
    wave, spans = dialogue
    sess, events = stream(rec, wave, chunk)
    finals = [e for e in events if isinstance(e, Final)]
    offline = segment_wave(wave, SileroVad())
    assert [f.segment for f in finals] == offline and len(offline) == len(spans)
    texts = [transcribe_wave(rec, wave[s.start:s.end]) for s in offline]
    assert [f.text for f in finals] == texts and all(texts)
    # partials appear while each utterance grows, roughly every 200 ms of audio
    partials = [e for e in events if isinstance(e, Partial)]
    speech_s = sum(s.end - s.start for s in offline) / 16000
    assert len(partials) >= 0.5 * speech_s / 0.2
    # latency bookkeeping: one entry per final; the hangover is the trailing-silence rule plus granularity
    assert len(sess.stats.items) == len(finals)
    for f in finals:
        assert 0.5 <= f.latency.hangover <= 0.5 + 512 / 16000 and f.latency.decode > 0
        assert f.latency.queue >= 0
    assert set(sess.stats.summary()) == {"total", "hangover", "queue", "decode", "display", "decode_cpu"}
    # each final ending in silence was decoded during its trailing silence, before the endpoint
    assert sess.early_hits == sum(f.segment.reason == "silence" for f in finals) > 0


def test_memory_is_bounded_by_the_open_utterance(rec, dialogue):
    wave, _ = dialogue
    long = np.concatenate([wave] * 4)
    sess = StreamingSession(rec, Segmenter(SileroVad()), StreamConfig(partial_interval=1e6))  # finals only
    peak = 0
    for i in range(0, len(long), 800):
        sess.accept(long[i:i + 800])
        peak = max(peak, sess.buf.size)
    assert peak < 4 * 16000 and sess.buf.offset > 0.8 * len(long)  # never more than one utterance kept


def test_chunked_decoder_frames_align_with_offline_on_a_local_model(tmp_path):
    # Without attention layers every output frame depends on a bounded stretch of audio, so with enough
    # left/right context the chunked logits must equal the offline ones frame for frame.
    local = make_model(tmp_path / "local.safetensors", extractor_mode="layer_norm", num_layers=0, pos_conv_kernel=8)
    x = np.random.RandomState(0).randn(3 * 16000 + 123).astype(np.float32) * 0.1
    dec = ChunkedDecoder(local, StreamConfig(mode="chunked", chunk=0.32, left_context=0.32, right_context=0.32))
    for n in range(0, len(x) + 1, 700):
        dec.advance(x[:n])
    assert len(dec.rows) > 5  # it really ran chunk by chunk
    np.testing.assert_allclose(dec.finish(x), recognizer_logits(local, x), atol=1e-4)


def test_chunked_session_finalises_every_utterance(rec, dialogue):
    wave, spans = dialogue
    _, events = stream(rec, wave, 512, StreamConfig(mode="chunked"))
    finals = [e for e in events if isinstance(e, Final)]
    assert [f.segment for f in finals] == segment_wave(wave, SileroVad())
    assert all(f.text for f in finals)
    assert any(isinstance(e, Partial) and e.text for e in events)


def test_long_inputs_are_split_for_a_bounded_runner(rec):
    class Bounded:
        sample_rate, min_samples, max_samples, hop, receptive_field = 16000, 400, 16000, 320, 400

        def logits(self, wave):
            assert self.min_samples <= len(wave) <= self.max_samples
            return rec.logits(wave)

    out = recognizer_logits(Bounded(), np.zeros(40000, np.float32))
    assert 120 <= out.shape[0] <= 125 and recognizer_logits(Bounded(), np.zeros(100, np.float32)).shape[0] == 1


@pytest.mark.parametrize("mode", ["redecode", "chunked"])
def test_speech_longer_than_max_utterance_is_cut_and_still_matches_offline_segments(rec, mode):
    from edge_ssl.asr.stream.endpoint import EndpointConfig

    wave, _ = build_dialogue(["one two three four five six seven eight nine ten eleven twelve"], [0.3, 0.6])
    cfg = EndpointConfig(max_utterance=1.5)
    sess = StreamingSession(rec, Segmenter(SileroVad(), endpoint_cfg=cfg), StreamConfig(mode=mode))
    events = sum((sess.accept(wave[i:i + 700]) for i in range(0, len(wave), 700)), []) + sess.finish()
    finals = [e for e in events if isinstance(e, Final)]
    offline = segment_wave(wave, SileroVad(), endpoint_cfg=cfg)
    assert [f.segment for f in finals] == offline and offline[0].reason == "max_length"
    assert all(s.end - s.start <= 1.5 * 16000 for s in offline)
    if mode == "redecode":
        assert [f.text for f in finals] == [transcribe_wave(rec, wave[s.start:s.end]) for s in offline]


@pytest.fixture(scope="module")
def paused():
    """"good morning" and "everyone" with a 0.25 s pause between (one line), then "see you later" 0.9 s on."""
    return build_dialogue(["good morning", "everyone", "see you later"], [0.4, 0.25, 0.9, 0.6])


def live_events(rec, wave, chunk=512):
    from edge_ssl.asr.stream.endpoint import live_endpoint

    return stream(rec, wave, chunk, endpoint_cfg=live_endpoint())


@pytest.mark.parametrize("chunk", [512, 4800])
def test_live_rules_commit_at_a_short_pause_then_append(rec, paused, chunk):
    from edge_ssl.asr.stream.endpoint import live_endpoint

    wave, spans = paused
    sess, events = live_events(rec, wave, chunk)
    finals = [e for e in events if isinstance(e, Final)]
    offline = segment_wave(wave, SileroVad(), endpoint_cfg=live_endpoint())
    assert [f.segment for f in finals] == offline
    assert [f.segment.joins for f in finals] == [False, True, False]  # the 0.25 s pause keeps the line going
    assert all(f.segment.reason == "silence" for f in finals)
    # each final equals the offline decode of its segment; fed window by window (a microphone's 32 ms blocks),
    # it is the decode made speculatively in the pause, before the commit
    assert sess.early_hits == (len(finals) if chunk == 512 else sess.early_hits)
    assert [f.text for f in finals] == [transcribe_wave(rec, wave[s.start:s.end]) for s in offline]
    # committed 0.096 s after the VAD's end of speech (+ one window), far sooner than the 0.5 s line end
    assert all(0.096 <= f.latency.hangover <= 0.096 + 512 / 16000 for f in finals)
