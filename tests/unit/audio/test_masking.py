import numpy as np
import pytest

from edge_ssl.audio.masking import batch_span_mask, span_mask, utterance_rng


def test_number_of_spans_is_mask_prob_times_frames_over_span():
    # span 1: spans never overlap, so the masked count IS the number of spans: int(0.65 * 200 / 1 + U)
    for step in range(20):
        n = span_mask(200, 0.65, 1, utterance_rng(0, step, 0)).sum()
        assert n in (130, 131)


def test_overlapping_spans_mask_about_half_at_065():
    # 0.65 * 500 / 10 = 32.5 spans of 10 frames over 490 starts: overlaps leave ~49% masked (not 65%)
    frac = np.mean([span_mask(500, 0.65, 10, utterance_rng(1, s, 3)).mean() for s in range(200)])
    assert 0.46 < frac < 0.52
    frac = np.mean([span_mask(500, 0.8, 10, utterance_rng(1, s, 3)).mean() for s in range(200)])
    assert 0.53 < frac < 0.60  # HuBERT's 0.8


def test_masks_are_contiguous_spans_of_the_given_length():
    m = span_mask(1000, 0.05, 10, utterance_rng(0, 0, 0))  # ~5 spans: rarely touching
    runs = np.diff(np.flatnonzero(np.diff(np.r_[0, m.astype(int), 0])))[::2]
    assert (runs % 10 == 0).all() or (runs >= 10).all()


def test_min_masks_and_short_utterances():
    m = span_mask(8, 0.0001, 10, utterance_rng(0, 0, 0), min_masks=2)
    assert m.any() and len(m) == 8
    assert not span_mask(50, 0.0, 10, utterance_rng(0, 0, 0)).any()


def test_batch_masks_respect_padding_and_depend_only_on_seed_step_index():
    rngs = [utterance_rng(7, 3, i) for i in (5, 9)]
    a = batch_span_mask([100, 40], 100, 0.65, 10, rngs)
    assert a.shape == (2, 100) and not a[1, 40:].any()
    # utterance 9 alone, in another batch position, gets the same mask
    b = batch_span_mask([40], 60, 0.65, 10, [utterance_rng(7, 3, 9)])
    assert (b[0, :40] == a[1, :40]).all()
    c = batch_span_mask([40], 60, 0.65, 10, [utterance_rng(7, 4, 9)])  # next step: new draw
    assert not (c[0, :40] == a[1, :40]).all()
    with pytest.raises(ValueError):
        batch_span_mask([10, 10], 10, 0.5, 2, rngs[:1])
