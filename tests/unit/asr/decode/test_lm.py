"""Word n-gram LM: our ARPA files are proper distributions as KenLM reads them, held-out sentences stay out,
and beam search with the LM corrects a greedy CTC path. Real flashlight-text (KenLM) throughout."""
import math

import numpy as np
import pytest

from edge_ssl.asr.decode.lm_text import gather_lm_text
from edge_ssl.asr.decode.ngram import UNK, read_arpa_words, write_arpa
from edge_ssl.asr.decode.tokenizer import CharTokenizer
from edge_ssl.data.manifest import Utterance, write_manifest
from edge_ssl.errors import EdgeSSLError

pytest.importorskip("flashlight.lib.text.decoder", reason="flashlight-text not installed (extra: lm)")
from flashlight.lib.text.decoder.kenlm import KenLM  # noqa: E402
from flashlight.lib.text.dictionary import Dictionary  # noqa: E402

CORPUS = ["The cat sat on the mat.", "the cat sat", "A dog sat on a log", "the dog ran", "The cat ran on the mat",
          "a cat", "the cat sat on a log", "a sad dog", "the mat"]


@pytest.mark.parametrize("order", [2, 3, 4])
def test_each_context_is_a_distribution_through_kenlm(tmp_path, order):
    stats = write_arpa(CORPUS, tmp_path / "lm.arpa", order)
    text = (tmp_path / "lm.arpa").read_text()
    assert stats.sentences == len(CORPUS) and len(stats.counts) == order
    for n, count in enumerate(stats.counts, 1):  # the header counts match the sections
        section = text.split(f"\\{n}-grams:\n")[1].split("\n\n")[0]
        assert f"ngram {n}={count}\n" in text and len(section.splitlines()) == count
    words = [*read_arpa_words(tmp_path / "lm.arpa"), UNK]
    assert "<s>" not in words and {"cat", "mat", "log"} <= set(words)
    vocab = Dictionary(words)
    lm = KenLM(str(tmp_path / "lm.arpa"), vocab)

    def total(state):  # P(every word) + P(</s>); flashlight's KenLM scores are log10
        return sum(10 ** lm.score(state, i)[1] for i in range(len(words))) + 10 ** lm.finish(state)[1]

    def after(*ws):
        state = lm.start(False)  # after <s>
        for w in ws:
            state = lm.score(state, vocab.get_index(w))[0]
        return state

    # Seen and unseen histories, up to the highest order, and the null context.
    for state in (after(), after("the"), after("the", "cat"), after("the", "cat", "sat"), after("cat", "log"),
                  after("dog", "cat", "mat"), lm.start(True)):
        assert total(state) == pytest.approx(1.0, abs=1e-4)
    # Kneser-Ney at work: "the cat" continues as seen more than an unseen continuation does.
    assert lm.score(after("the", "cat"), vocab.get_index("sat"))[1] > \
        lm.score(after("the", "cat"), vocab.get_index("log"))[1]


def test_bad_lm_input_is_a_clear_error(tmp_path):
    with pytest.raises(EdgeSSLError, match="empty text"):
        write_arpa(["", "!!"], tmp_path / "lm.arpa")
    with pytest.raises(EdgeSSLError, match="order must be >= 2"):
        write_arpa(CORPUS, tmp_path / "lm.arpa", order=1)
    assert not (tmp_path / "lm.arpa").exists()
    with pytest.raises(EdgeSSLError, match=f"not found: {tmp_path / 'missing.txt'}"):
        gather_lm_text([tmp_path / "missing.txt"])
    (tmp_path / "empty.txt").write_text("\n  \n...\n")
    with pytest.raises(EdgeSSLError, match=f"{tmp_path / 'empty.txt'}: no words"):
        gather_lm_text([tmp_path / "empty.txt"])
    (tmp_path / "junk.arpa").write_text("not an lm\n")
    with pytest.raises(EdgeSSLError, match="junk.arpa: no unigrams"):
        read_arpa_words(tmp_path / "junk.arpa")


def test_exclude_drops_every_test_sentence(tmp_path):
    (tmp_path / "text.txt").write_text("\n".join(CORPUS) + "\n")
    test = write_manifest([Utterance("u1", tmp_path / "u1.wav", 16000, "The cat sat!"),
                           Utterance("u2", tmp_path / "u2.wav", 16000, "the dog RAN")], tmp_path / "test.jsonl")
    got = gather_lm_text([tmp_path / "text.txt"], exclude=[test])
    assert got.dropped == 2 and len(got.sentences) == len(CORPUS) - 2
    assert "the cat sat" not in got.sentences and "the dog ran" not in got.sentences
    assert "the cat sat on the mat" in got.sentences  # only whole-sentence matches go

    train = write_manifest([Utterance("t1", tmp_path / "t1.wav", 16000, "The dog ran!"),
                            Utterance("t2", tmp_path / "t2.wav", 16000, "A red fox"),
                            Utterance("t3", tmp_path / "t3.wav", 16000, None)], tmp_path / "train.jsonl")
    got = gather_lm_text([train], exclude=[test])  # a manifest's transcripts are LM text too
    assert got.sentences == ["a red fox"] and got.dropped == 1


def ambiguous_logits(tok: CharTokenizer) -> np.ndarray:
    """Raw logits (T, V) whose greedy path reads "the cat sad": the last letter is d (p .5) over t (p .3)."""
    ids = tok.encode("the cat sad")
    p = np.full((2 * len(ids) + 1, tok.vocab_size), 1e-3)
    p[::2, tok.blank_id] = 1.0  # blank between letters
    for k, i in enumerate(ids):
        p[2 * k + 1, i] = 1.0
    p[-2, tok.tokens.index("d")], p[-2, tok.tokens.index("t")] = 0.5, 0.3
    return (np.log(p / p.sum(1, keepdims=True)) + 3.0).astype(np.float32)  # + 3: not normalised, as a model's


def test_lm_corrects_an_ambiguous_greedy_path(tmp_path):
    from edge_ssl.asr.decode.beam import BeamOptions, LexiconBeamDecoder
    from edge_ssl.asr.decode.greedy import greedy_ids

    tok = CharTokenizer()
    write_arpa(CORPUS, tmp_path / "lm.arpa")
    logits = ambiguous_logits(tok)
    assert tok.decode(greedy_ids(logits, tok.blank_id)) == "the cat sad"
    assert LexiconBeamDecoder(tmp_path / "lm.arpa", tok.tokens, tok.blank_id)(logits) == "the cat sat"
    # Without the LM's weight the acoustics win, and "sad" is a lexicon word: the LM made the fix.
    no_lm = LexiconBeamDecoder(tmp_path / "lm.arpa", tok.tokens, tok.blank_id, BeamOptions(lm_weight=0.0))
    assert no_lm(logits) == "the cat sad"
    with pytest.raises(EdgeSSLError, match=r"expected logits \(T, 29\)"):
        no_lm(logits[:, :5])


def test_cli_bad_input_names_the_file(run_cli, tmp_path):
    from edge_ssl.assets import bundled_model

    code, err = run_cli("build-lm", tmp_path / "missing.txt", "--out", tmp_path / "lm.arpa")
    assert code == 2 and f"text file not found: {tmp_path / 'missing.txt'}" in err
    code, err = run_cli("build-lm", "--out", tmp_path / "lm.arpa")
    assert code == 2 and "--wordnet" in err and not (tmp_path / "lm.arpa").exists()
    manifest = write_manifest([Utterance("u1", tmp_path / "u1.wav", 16000, "a cat")], tmp_path / "m.jsonl")
    code, err = run_cli("evaluate", bundled_model("onnx"), manifest, "--lm", tmp_path / "nope.arpa")
    assert code == 2 and f"language model not found: {tmp_path / 'nope.arpa'}" in err
