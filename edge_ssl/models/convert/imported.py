"""What every importer produces, and how it becomes an edge-ssl model file.

An importer (``hf.py``, ``fairseq.py``) reads a foreign checkpoint into an ``ImportedTeacher``: an
``EncoderConfig``, the encoder's weights under edge-ssl names, and for a CTC model the output layer with
its vocabulary already in edge-ssl order (blank first). ``save_teacher`` writes it with
``store.save_model`` (plus ``tokens.txt`` beside a CTC model) and ``store.load_model`` reads it back.
"""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path

import torch

from edge_ssl.asr.decode.tokenizer import BLANK, SPACE, CharTokenizer
from edge_ssl.errors import EdgeSSLError
from edge_ssl.models.ctc import CTCModel
from edge_ssl.models.speech_encoder import EncoderConfig, SpeechEncoder
from edge_ssl.models.store import load_into, save_model

log = logging.getLogger(__name__)


@dataclass
class ImportedTeacher:
    encoder: EncoderConfig
    state: dict[str, torch.Tensor]            # SpeechEncoder state_dict names
    source: str                                # where it came from, for messages and metadata
    family: str                                # wav2vec2 | hubert | data2vec_audio
    head_weight: torch.Tensor | None = None    # (V, C) CTC output layer, rows in ``vocab`` order
    head_bias: torch.Tensor | None = None      # (V,)
    vocab: list[str] | None = None             # CTC tokens, vocab[0] is the blank
    head_order: list[int] | None = None        # edge vocab id -> source vocab id (rows taken from the source)

    @property
    def kind(self) -> str:
        return "speech_encoder" if self.head_weight is None else "ctc"


def rename(state: dict[str, torch.Tensor], rules: list[tuple[str, str]], ignore: list[str],
           source: str) -> dict[str, torch.Tensor]:
    """Source names -> edge-ssl names by the first matching ``(regex, replacement)`` rule (full match).

    Names matching an ``ignore`` regex (pretraining-only heads) are dropped; any other unmatched name is
    an error, because it means a part the edge-ssl encoder does not have (adapters, a conformer block...).
    """
    out, unknown, dropped = {}, [], []
    compiled = [(re.compile(p), r) for p, r in rules]
    for name, value in state.items():
        for pattern, repl in compiled:
            if pattern.fullmatch(name):
                out[pattern.sub(repl, name)] = value
                break
        else:
            (dropped if any(re.fullmatch(p, name) for p in ignore) else unknown).append(name)
    if dropped:
        log.info("%s: not imported (pretraining heads): %d tensors, e.g. %s", source, len(dropped), dropped[0])
    if unknown:
        raise EdgeSSLError(f"{source}: {len(unknown)} weights have no edge-ssl counterpart, e.g. "
                           f"{', '.join(sorted(unknown)[:6])} (an adapter or another unsupported part?)")
    return out


def ctc_vocab(tokens: list[str], blank: int, word_delimiter: str, source: str) -> tuple[list[str], list[int]]:
    """Map a CTC vocabulary onto edge-ssl's ``CharTokenizer`` conventions.

    Returns (edge tokens, order): edge id ``i`` is source id ``order[i]``. The blank moves to id 0 and is
    named ``<blk>``, the word delimiter becomes ``|``, single upper-case letters become lower-case (the
    shared text normalisation lower-cases); everything else (``<s>``, ``<unk>``...) keeps its name and
    relative order.
    """
    if not 0 <= blank < len(tokens):
        raise EdgeSSLError(f"{source}: CTC blank id {blank} is outside the vocabulary of {len(tokens)} tokens")
    order = [blank] + [i for i in range(len(tokens)) if i != blank]
    present = set(tokens)
    out = []
    for i in order:
        t = tokens[i]
        if i == blank:
            t = BLANK
        elif t == word_delimiter:
            t = SPACE
        elif len(t) == 1 and t.isupper() and t.lower() not in present:
            t = t.lower()
        if not t or any(c.isspace() for c in t):
            raise EdgeSSLError(f"{source}: vocabulary token {tokens[i]!r} (id {i}) is empty or contains whitespace")
        out.append(t)
    dupes = sorted({t for t in out if out.count(t) > 1})
    if dupes:
        raise EdgeSSLError(f"{source}: vocabulary maps several ids onto {dupes} (blank/delimiter clash)")
    return out, order


def build_model(t: ImportedTeacher) -> torch.nn.Module:
    """The edge-ssl model with the imported weights (eval mode); names every mismatched tensor."""
    if t.kind == "speech_encoder":
        model, state = SpeechEncoder(t.encoder), dict(t.state)
    else:
        model = CTCModel(t.encoder, len(t.vocab))
        state = {f"encoder.{k}": v for k, v in t.state.items()}
        state["head.weight"], state["head.bias"] = t.head_weight, t.head_bias
    load_into(model, state, t.source)
    return model.eval()


def save_teacher(t: ImportedTeacher, out: str | Path) -> Path | None:
    """Write the model file (atomically); for CTC also ``tokens.txt`` beside it. Returns that path."""
    out = Path(out)
    model = build_model(t)
    extra = {"imported_from": t.source, "family": t.family}
    if t.kind == "speech_encoder":
        save_model(model, out, "speech_encoder", {"encoder": t.encoder}, **extra)
        return None
    tokens_path = out.with_name("tokens.txt")
    save_model(model, out, "ctc", {"encoder": t.encoder}, vocab=t.vocab, **extra)
    CharTokenizer(tuple(t.vocab)).save(tokens_path)
    return tokens_path
