import json

import numpy as np
import pytest
import soundfile as sf
import torch

from edge_ssl.asr.evaluate.report import evaluate_manifest
from edge_ssl.asr.decode.tokenizer import CharTokenizer
from edge_ssl.asr.transcribe import open_model, transcribe_file
from edge_ssl.data.manifest import Utterance, write_manifest
from edge_ssl.errors import EdgeSSLError
from edge_ssl.models.ctc import CTCModel
from edge_ssl.models.speech_encoder import tiny
from edge_ssl.models.store import save_model

TEXTS = {4000: "a cat", 6000: "the dog ran", 8000: "hello"}


class SpellingRunner:
    """A runner whose logits spell a fixed text per input length (one-hot, blanks between letters)."""

    sample_rate, blank_id = 16000, 0
    tokens = CharTokenizer().tokens

    def __init__(self, texts):
        self.texts = texts

    def run(self, wave):
        ids = CharTokenizer().encode(self.texts[len(wave)])
        logits = np.full((2 * len(ids) + 1, len(self.tokens)), -5.0, dtype=np.float32)
        logits[::2, 0] = 5.0
        for k, i in enumerate(ids):
            logits[2 * k + 1, i] = 5.0
        return logits


def corpus(tmp_path, refs, corrupt=False):
    utts = []
    for n, ref in refs.items():
        p = tmp_path / f"u{n}.wav"
        sf.write(p, np.random.default_rng(n).normal(0, 0.1, n).astype(np.float32), 16000)
        utts.append(Utterance(f"u{n}", p, n, ref))
    if corrupt:
        bad = tmp_path / "bad.wav"
        bad.write_bytes(b"RIFF0000WAVEjunk")
        utts.append(Utterance("bad", bad, 5000, "x"))
    return write_manifest(utts, tmp_path / "m.jsonl")


def test_perfect_hypotheses_score_zero_and_bad_file_is_reported(tmp_path):
    m = corpus(tmp_path, {4000: "A cat!", 6000: "The dog ran.", 8000: "Hello"}, corrupt=True)
    s = evaluate_manifest(SpellingRunner(TEXTS), m, tmp_path / "eval", progress=False)
    assert (s.cer, s.wer, s.num_utterances, s.num_failed) == (0, 0, 3, 1)
    assert s.decoder == "greedy" and s.audio_s == pytest.approx(18000 / 16000)  # the bad file is not counted
    rows = [json.loads(x) for x in (tmp_path / "eval" / "results.jsonl").read_text().splitlines()]
    assert [r["id"] for r in rows] == ["u4000", "u6000", "u8000", "bad"] and "error" in rows[-1]
    assert rows[1]["ref"] == "the dog ran"
    assert json.loads((tmp_path / "eval" / "summary.json").read_text())["cer"] == 0


def test_errors_are_counted(tmp_path):
    m = corpus(tmp_path, {4000: "a bat", 6000: "the dog ran", 8000: "hello"})
    s = evaluate_manifest(SpellingRunner(TEXTS), m, progress=False)
    assert s.char_errors == 1 and s.word_errors == 1
    assert s.cer == pytest.approx(1 / (5 + 11 + 5), abs=1e-5)


def test_unlabeled_manifest_is_a_clear_error(tmp_path):
    m = corpus(tmp_path, {4000: None})
    with pytest.raises(EdgeSSLError, match="no 'text'"):
        evaluate_manifest(SpellingRunner(TEXTS), m, progress=False)


def test_eager_model_file_transcribes_any_rate(tmp_path):
    tok = CharTokenizer()
    model = CTCModel(tiny(), tok.vocab_size)
    save_model(model, tmp_path / "m.safetensors", "ctc", {"encoder": tiny()}, vocab=list(tok.tokens))
    runner = open_model(tmp_path / "m.safetensors")
    stereo = np.random.default_rng(0).normal(0, 0.1, (22050, 2)).astype(np.float32)
    sf.write(tmp_path / "x.wav", stereo, 22050)
    text = transcribe_file(runner, tmp_path / "x.wav")
    assert isinstance(text, str) and set(text) <= set("abcdefghijklmnopqrstuvwxyz' ")
    assert runner.run(np.zeros(16000, np.float32)).shape == (49, tok.vocab_size)
    with pytest.raises(EdgeSSLError, match="outside"):
        runner.run(np.zeros(100, np.float32))


def test_encoder_file_is_not_a_recognizer(tmp_path):
    from edge_ssl.models.speech_encoder import SpeechEncoder
    save_model(SpeechEncoder(tiny()), tmp_path / "e.safetensors", "speech_encoder", tiny())
    with pytest.raises(EdgeSSLError, match="not CTC logits"):
        open_model(tmp_path / "e.safetensors")


def test_cli_fails_on_failed_rows_and_says_how_many(run_cli, tiny_ctc, tmp_path):  # issue 18, smaller
    m = corpus(tmp_path, {4000: "a cat", 6000: "the dog"}, corrupt=True)
    code, err = run_cli("evaluate", tiny_ctc, m, "--out", tmp_path / "eval")
    assert code == 1 and "1 of 3 utterances failed" in err


def test_empty_manifest_says_so(tmp_path):
    (tmp_path / "m.jsonl").write_text("\n")
    with pytest.raises(EdgeSSLError, match="m.jsonl: empty manifest"):
        evaluate_manifest(SpellingRunner(TEXTS), tmp_path / "m.jsonl", progress=False)


def test_manifest_without_num_samples_is_scored_and_a_lost_file_is_a_failed_row(tmp_path):
    m = corpus(tmp_path, {4000: "a cat", 6000: "the dog ran"})
    rows = [json.loads(x) for x in m.read_text().splitlines()] + [{"id": "lost", "audio": "lost.wav", "text": "x"}]
    m.write_text("".join(json.dumps({k: v for k, v in r.items() if k != "num_samples"}) + "\n" for r in rows))
    s = evaluate_manifest(SpellingRunner(TEXTS), m, progress=False)
    assert (s.num_utterances, s.num_failed, s.cer) == (2, 1, 0)


def test_eager_model_range_error_does_not_say_exported(tmp_path):  # issue 18, smaller: a .safetensors row
    tok = CharTokenizer()
    save_model(CTCModel(tiny(), tok.vocab_size), tmp_path / "m.safetensors", "ctc", {"encoder": tiny()},
               vocab=list(tok.tokens))
    with pytest.raises(EdgeSSLError) as e:
        open_model(tmp_path / "m.safetensors").run(np.zeros(100, np.float32))
    assert "exported" not in str(e.value) and "accepts" in str(e.value)
