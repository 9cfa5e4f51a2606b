import jiwer
import pytest

from edge_ssl.asr.evaluate.metrics import corpus_error_rates, error_counts


def test_matches_jiwer_after_normalisation():
    c = error_counts("Hello, World! 2 cats", "helo word two cats")
    assert c.wer == pytest.approx(jiwer.wer("hello world two cats", "helo word two cats"))
    assert c.cer == pytest.approx(jiwer.cer("hello world two cats", "helo word two cats"))


def test_perfect_and_empty():
    assert error_counts("The cat's hat.", "the cat's hat").wer == 0
    c = error_counts("a b", "")
    assert (c.word_errors, c.words, c.char_errors, c.chars) == (2, 2, 3, 3)
    c = error_counts("", "ab")  # no reference: all insertions, no crash
    assert c.char_errors == 2 and c.chars == 0


def test_corpus_rate_is_total_edits_over_total_length():
    total = corpus_error_rates(["abcd efgh", "ab"], ["abcd efgh", "xy"])
    assert total.char_errors == 2 and total.chars == 11
    assert total.cer == pytest.approx(2 / 11)
    assert total.wer == pytest.approx(1 / 3)
