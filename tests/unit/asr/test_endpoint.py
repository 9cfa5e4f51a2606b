"""Endpoint rules on hand-made VAD decision sequences (32 ms windows at 16 kHz)."""
import pytest

from edge_ssl.asr.endpoint import EndpointConfig, Endpointer

W, SR = 512, 16000


def run(decisions, cfg, total=None):
    ep = Endpointer(cfg, SR, W)
    out = [seg for d in decisions if (seg := ep.update(bool(d)))]
    if total is not None and (seg := ep.flush(total)):
        out.append(seg)
    return out


def cfg(**kw):
    base = dict(trailing_silence=0.32, min_speech=0.1, max_utterance=5.0, speech_pad=0.064)
    return EndpointConfig(**{**base, **kw})


def test_trailing_silence_ends_an_utterance_with_pads():
    # 20 silent windows, 30 speech windows, 12 silent windows: the endpoint falls 10 windows (0.32 s) after speech.
    segs = run([0] * 20 + [1] * 30 + [0] * 12, cfg())
    assert len(segs) == 1
    s = segs[0]
    assert (s.start, s.speech_end, s.end, s.reason) == (20 * W - 1024, 50 * W, 50 * W + 1024, "silence")
    assert s.detected_at == 60 * W and s.final


def test_short_pause_inside_speech_does_not_end_it():
    segs = run([1] * 20 + [0] * 9 + [1] * 20 + [0] * 10, cfg())
    assert [(s.start, s.speech_end) for s in segs] == [(0, 49 * W)]


def test_speech_shorter_than_min_speech_is_dropped():
    segs = run([0] * 5 + [1] * 2 + [0] * 15 + [1] * 10 + [0] * 10, cfg(min_speech=0.1))
    assert [s.reason for s in segs] == ["too_short", "silence"]
    assert not segs[0].final and segs[1].speech_end == 32 * W


def test_max_utterance_cuts_and_continues():
    segs = run([1] * 400 + [0] * 10, cfg(max_utterance=5.0))
    lengths = [s.end - s.start for s in segs]
    assert [s.reason for s in segs] == ["max_length", "max_length", "silence"]
    assert all(n <= 5 * SR for n in lengths)
    assert segs[1].start == segs[0].end and segs[2].start == segs[1].end  # contiguous, no overlap


def test_pads_never_overlap_the_previous_segment():
    segs = run([1] * 20 + [0] * 10 + [1] * 20 + [0] * 10, cfg(speech_pad=0.3, trailing_silence=0.32))
    assert len(segs) == 2 and segs[1].start == segs[0].end


def test_flush_closes_the_open_utterance_at_end_of_stream():
    segs = run([0] * 3 + [1] * 10, cfg(), total=13 * W + 100)
    assert [(s.reason, s.speech_end, s.end) for s in segs] == [("end_of_stream", 13 * W, 13 * W + 100)]
    assert run([0] * 3, cfg(), total=3 * W) == []


@pytest.mark.parametrize("kw", [dict(trailing_silence=0), dict(speech_pad=0.5, trailing_silence=0.3),
                                dict(max_utterance=0.05)])
def test_bad_configs_are_rejected(kw):
    with pytest.raises(ValueError):
        cfg(**kw).validate()
