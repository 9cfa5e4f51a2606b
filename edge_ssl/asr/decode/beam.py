"""CTC beam search with a word n-gram LM: flashlight-text's LexiconDecoder over the model's characters.

The lexicon is the LM's own vocabulary (its ARPA unigrams), each word spelled in the model's characters
and closed by the word separator ``|``; a word with a character the model cannot emit is left out. The
decoder can only write lexicon words, so the LM text sets what it can say. Scores: CTC log-probabilities
plus ``lm_weight`` x the LM's log10 probability plus ``word_score`` per word (torchaudio's ctc_decoder
uses the same library and the same scoring). flashlight-text is the optional extra ``lm``.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from edge_ssl.asr.decode.ngram import UNK, read_arpa_words
from edge_ssl.asr.decode.tokenizer import SPACE
from edge_ssl.errors import EdgeSSLError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BeamOptions:
    beam: int = 50                # hypotheses kept per frame
    lm_weight: float = 2.0        # x LM log10 probability
    word_score: float = 0.0       # added per word; > 0 favours more, shorter words
    beam_threshold: float = 25.0  # drop hypotheses this far below the best


def _flashlight():
    try:
        from flashlight.lib.text import decoder, dictionary
        from flashlight.lib.text.decoder.kenlm import KenLM
    except ImportError as e:
        raise EdgeSSLError(f"beam search with an LM needs flashlight-text ({e}); install the extra: "
                           "pip install -e '.[lm]' (or make install)") from None
    return decoder, dictionary, KenLM


class LexiconBeamDecoder:
    """logits (T, V) of one utterance -> text, by lexicon-constrained beam search with a KenLM word LM."""

    def __init__(self, lm_path: str | Path, tokens: Sequence[str], blank_id: int,
                 options: BeamOptions = BeamOptions()) -> None:
        fl, fl_dict, KenLM = _flashlight()
        if SPACE not in tokens:
            raise EdgeSSLError(f"the model's vocabulary has no word separator {SPACE!r}; a word LM needs one")
        index = {t: i for i, t in enumerate(tokens)}
        words = [w for w in read_arpa_words(lm_path) if all(ch in index for ch in w)]
        if not words:
            raise EdgeSSLError(f"{lm_path}: no LM word can be spelled with the model's characters")
        self.words = fl_dict.Dictionary([*words, UNK])
        try:
            lm = KenLM(str(lm_path), self.words)
        except RuntimeError as e:  # KenLM's FormatLoadException: the message says what and where
            raise EdgeSSLError(f"{lm_path}: not a loadable ARPA language model: {e}") from None
        sep = index[SPACE]
        trie = fl.Trie(len(tokens), sep)
        start = lm.start(False)
        for i, w in enumerate(words):
            # The unigram score smeared over the trie lets the beam weigh a word before it is complete.
            trie.insert([index[ch] for ch in w] + [sep], i, lm.score(start, i)[1])
        trie.smear(fl.SmearingMode.MAX)
        opts = fl.LexiconDecoderOptions(
            beam_size=options.beam, beam_size_token=len(tokens), beam_threshold=options.beam_threshold,
            lm_weight=options.lm_weight, word_score=options.word_score, unk_score=float("-inf"), sil_score=0.0,
            log_add=False, criterion_type=fl.CriterionType.CTC)
        self._decoder = fl.LexiconDecoder(opts, trie, lm, sep, blank_id, self.words.get_index(UNK), [], False)
        self._lm, self._trie = lm, trie  # the decoder holds raw pointers to both: keep them alive
        self.vocab_size, self.sep = len(tokens), sep

    def __call__(self, logits: np.ndarray) -> str:
        if logits.ndim != 2 or logits.shape[1] != self.vocab_size:
            raise EdgeSSLError(f"expected logits (T, {self.vocab_size}), got {logits.shape}")
        # The decoder adds scores frame by frame: it needs log-probabilities, not raw logits.
        x = logits.astype(np.float64)
        x = x - x.max(1, keepdims=True)
        logp = x - np.log(np.exp(x).sum(1, keepdims=True))
        if len(logp) == 0:
            return ""
        # Lexicon words end with the separator, which CTC models rarely write after the last word; at the
        # end the decoder keeps only hypotheses between words, and would drop (or distort) that word. One
        # closing frame of certain separator ends every hypothesis's word; it costs none of them anything.
        close = np.full((1, self.vocab_size), -1e4)
        close[0, self.sep] = 0.0
        logp = np.ascontiguousarray(np.concatenate([logp, close]), dtype=np.float32)  # (T + 1, V)
        best = self._decoder.decode(logp.ctypes.data, logp.shape[0], logp.shape[1])[0]
        return " ".join(self.words.get_entry(i) for i in best.words if i >= 0)
