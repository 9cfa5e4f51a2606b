"""Endpoint rules on hand-made VAD decision sequences (32 ms windows at 16 kHz)."""
import pytest

from edge_ssl.asr.stream.endpoint import EndpointConfig, Endpointer

W, SR = 512, 16000


def run(decisions, cfg, total=None, probs=None):
    ep = Endpointer(cfg, SR, W)
    probs = probs if probs is not None else [float(d) for d in decisions]
    out = [seg for d, p in zip(decisions, probs) if (seg := ep.update(bool(d), p))]
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


def test_commit_silence_ends_a_segment_early_and_the_next_one_joins_its_line():
    # pauses of 4 windows (0.128 s) and then 20 windows: commit after 3 windows, a line ends after 10
    segs = run([1] * 20 + [0] * 4 + [1] * 20 + [0] * 20 + [1] * 20 + [0] * 3, cfg(commit_silence=0.096))
    assert [(s.speech_end, s.detected_at, s.joins) for s in segs] == [
        (20 * W, 23 * W, False),   # committed 3 windows after speech, before the pause is over
        (44 * W, 47 * W, True),    # speech resumed within trailing_silence: the same line goes on
        (84 * W, 87 * W, False)]   # after 20 silent windows: a new line
    assert segs[1].start == segs[0].end  # pads never overlap


def test_commit_waits_while_the_vad_is_unsure_about_the_pause():
    c = cfg(commit_silence=0.096, commit_max_prob=0.1, trailing_silence=0.5)  # trailing: 16 windows
    decisions = [1] * 20 + [0] * 20
    sure = run(decisions, c, probs=[0.9] * 20 + [0.02] * 20)
    assert [s.detected_at for s in sure] == [23 * W]
    # a hesitant dip (prob 0.3 for 3 windows, then 0.02): committed once the pause's mean is <= 0.1, after
    # 11 windows ((0.9 + 8 * 0.02) / 11 = 0.096; after 10 it is 0.104)
    unsure = run(decisions, c, probs=[0.9] * 20 + [0.3] * 3 + [0.02] * 17)
    assert [s.detected_at for s in unsure] == [31 * W]
    # never sure: the trailing-silence rule still ends it
    assert [s.detected_at for s in run(decisions, c, probs=[0.9] * 20 + [0.3] * 20)] == [36 * W]


def test_without_commit_silence_probabilities_change_nothing():
    decisions = [0] * 5 + [1] * 20 + [0] * 12
    assert run(decisions, cfg(), probs=[0.3] * 37) == run(decisions, cfg())


@pytest.mark.parametrize("kw", [dict(trailing_silence=0), dict(speech_pad=0.5, trailing_silence=0.3),
                                dict(max_utterance=0.05), dict(commit_silence=0.4, trailing_silence=0.32),
                                dict(commit_silence=0.064, speech_pad=0.1), dict(commit_silence=0),
                                dict(commit_silence=0.1, commit_max_prob=0)])
def test_bad_configs_are_rejected(kw):
    with pytest.raises(ValueError):
        cfg(**kw).validate()
