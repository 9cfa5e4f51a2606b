"""Flight of the Amazon Queen (Debian ``flight-of-the-amazon-queen``, the freeware CD version): ~4.6 h of voice.

Everything is in one resource file, ``queen.1c``::

    0    "QTBL" + 8-byte version string ("CEM10") + 1 byte      (13-byte header)
    13   u16 BE entry count (7671)
    15   entries of 21 bytes: 12-byte NUL-padded name, 1 byte, u32 BE offset, u32 BE size

The ``*.SB`` entries (6,745) are voice clips: MPEG-2.5 layer III, 16 kbps, 11,025 Hz mono, whose frames
start at the entry's first byte in this release (a leading non-MP3 header, if one ever appears, is skipped
up to the first frame sync). Who speaks follows from the name and the game's own text files:

- ``NNiiii{J,P}k.SB``: line k of dialogue node ``iiii`` (hex) of dialogue file number NN; ``J`` is Joe
  (the hero), ``P`` the other person. ``iiii`` = ``SSSS`` is Joe's opening line, ``XXXX`` the greeting
  when you talk again, ``0001`` the person's opening. Each ``*.DOG`` dialogue file (an AMOS bank) holds
  Joe's option texts and the person's answers keyed by the same node ids, so the file behind NN is the
  one whose node ids match NN's clip names (``match_dialogues``); the person is that file's character.
- ``JOEnnnnk.SB``: Joe describing objects (and his stock answers): part k of a line of ``QUEEN2.JAS``
  (``description_line``).
- ``Cxxx_llk.SB`` (or ``CxxxxLLk``): cutaway (scripted scene) ``Cxxx.CUT``, line ll, part k. Cutaways mix
  speakers and the speaker of a line is not stored with its text, see ``cutaway_speaker``.
- a few others (``COMICnnn``, ``CINTRnnn``, ...) are intro, credits and comic scenes.
- ``<n>SSSS...`` (a number padded with S) are room sound effects, not voice: skipped with a reason.

Lines are split into parts at the game's ``*NN`` animation codes (``*03``, ``*FL``...): part k of the
text is what clip ``...k`` says, which is how ``game_text`` is attached. That text is the script the
actors read, unverified against the audio (ad-libs and small changes are possible).
"""
from __future__ import annotations

import logging
import re
import struct
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

from edge_ssl.data.manifest import Utterance
from edge_ssl.data.prepare import PrepareReport
from edge_ssl.data.real import Clip, convert_clips, missing
from edge_ssl.errors import EdgeSSLError

log = logging.getLogger(__name__)

SOURCE = "queen"
PACKAGE = "flight-of-the-amazon-queen"
RESOURCE = Path("/usr/share/scummvm/flight-of-the-amazon-queen/queen.1c")
HEADER_SIZE, ENTRY_SIZE = 15, 21  # 13-byte header + u16 count; 12 + 1 + 4 + 4


class QueenError(EdgeSSLError):
    """queen.1c (or a file inside it) is not laid out as expected. The message names the file and what."""


@dataclass(frozen=True)
class Entry:
    name: str
    offset: int
    size: int


def read_index(path: Path) -> list[Entry]:
    """The QTBL index of ``path``. Entries pointing past the end of the file are kept (reported later)."""
    with open(path, "rb") as f:
        head = f.read(HEADER_SIZE)
        if len(head) < HEADER_SIZE or head[:4] != b"QTBL":
            raise QueenError(f"{path}: not a QTBL resource file (starts with {head[:4]!r}, expected b'QTBL')")
        (count,) = struct.unpack(">H", head[13:15])
        table = f.read(count * ENTRY_SIZE)
    if len(table) < count * ENTRY_SIZE:
        raise QueenError(f"{path}: index declares {count} entries but the file ends inside the index")
    entries = []
    for i in range(count):
        raw = table[i * ENTRY_SIZE:(i + 1) * ENTRY_SIZE]
        name = raw[:12].split(b"\0", 1)[0].decode("latin-1")
        offset, size = struct.unpack(">II", raw[13:21])
        entries.append(Entry(name, offset, size))
    return entries


def read_entry(path: Path, entry: Entry) -> bytes:
    with open(path, "rb") as f:
        f.seek(entry.offset)
        data = f.read(entry.size)
    if len(data) != entry.size:
        raise QueenError(f"{path}: entry {entry.name} is truncated ({len(data)} of {entry.size} bytes)")
    return data


def mp3_start(head: bytes) -> int | None:
    """Offset of the first MPEG audio frame sync (11 set bits, layer III) in ``head``, None if none."""
    for i in range(len(head) - 1):
        if head[i] == 0xFF and (head[i + 1] & 0xE6) == 0xE2:  # sync + layer bits 01 (III)
            return i
    return None


# --- text: dialogue files, object descriptions, cutaways ----------------------------------------------

_CODE = re.compile(rb"\*[0-9A-Z]{2}")  # animation/facing codes between the parts of a line
_CLIP = re.compile(r"^(?P<nn>\d\d)(?P<node>[0-9A-F]{4}|SSSS|XXXX)(?P<who>[JP])(?P<k>[0-9A-Z])$")


def parts(text: bytes) -> list[str]:
    """A line split at its ``*NN`` codes; part k (1-based) is clip ``...k``. Empty parts are kept."""
    return [p.decode("latin-1").strip() for p in _CODE.split(text)]


def _printable(b: bytes) -> bool:
    return all(32 <= c < 127 for c in b)


def _pstrings(data: bytes, start: int) -> list[tuple[int, int, bytes]]:
    """``(position, u16 before it, text)`` for every [u16 id][u8 len][len printable bytes] record whose
    text is followed by a NUL (or the end), scanning from ``start``. Dialogue and cutaway banks store
    their texts this way, with zero padding of varying length between records."""
    out, p = [], start
    while p < len(data) - 3:
        n = data[p + 2]
        end = p + 3 + n
        text = data[p + 3:end]
        if n and len(text) == n and _printable(text) and (end >= len(data) or data[end] == 0):
            out.append((p, struct.unpack(">H", data[p:p + 2])[0], text))
            p = end
        else:
            p += 1
    return out


def dialogue_lines(data: bytes) -> dict[tuple[str, str], bytes]:
    """{(node, "J" or "P"): text} of one ``*.DOG`` bank (layout in the module docstring).

    Joe's option texts come first, keyed by node id, then the person's answers keyed by the same ids:
    the first text of an id is Joe's, the second the person's. Id 0 is Joe's opening line (``SSSS``), a
    second id 0 his greeting when talking again (``XXXX``); id 1 is the person's opening. After the
    name of the closing cutaway (``*.CUT``) come the person's and Joe's repeat greetings (``XXXX``).
    A text "0" means "none".
    """
    lines: dict[tuple[str, str], bytes] = {}
    seen: Counter = Counter()
    for pos, node, text in _pstrings(data, 0x14):
        if text.lower().endswith(b".cut"):
            q, tail = pos + 3 + len(text), []
            while q < len(data) and data[q] and q + 1 + data[q] <= len(data) \
                    and _printable(data[q + 1:q + 1 + data[q]]):
                tail.append(data[q + 1:q + 1 + data[q]])
                q += 1 + data[q]
            for who, text2 in zip("PJ", tail):
                if text2 != b"0":
                    lines.setdefault(("XXXX", who), text2)
            continue
        k = seen[node]
        seen[node] += 1
        if text == b"0":
            continue
        if node == 0:
            key = ("SSSS" if k == 0 else "XXXX", "J")
        elif node == 1:
            key = ("0001", "P")
        else:
            key = (f"{node:04X}", "J" if k == 0 else "P")
        lines.setdefault(key, text)
    return lines


def clip_texts(lines: dict[tuple[str, str], bytes]) -> dict[str, str]:
    """{clip suffix ("0006J1" ...): text} for every non-empty part of every line."""
    out = {}
    for (node, who), text in lines.items():
        for k, part in enumerate(parts(text), 1):
            if part and k < 36:
                out[f"{node}{who}{_digit(k)}"] = part
    return out


def _digit(k: int) -> str:
    return "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"[k]


def match_dialogues(clip_names: list[str], dialogues: dict[str, dict[str, str]]) -> dict[str, str]:
    """{NN: dialogue file} matching each dialogue-file number to the ``*.DOG`` whose clip suffixes
    (node ids + J/P + part) overlap its clip names best (Jaccard). ``_TIES`` settles the numbers whose clips
    fit several files about equally well; an exact tie between two characters' files stays unmatched."""
    by_nn: dict[str, set[str]] = defaultdict(set)
    for name in clip_names:
        m = _CLIP.match(name)
        if m:
            by_nn[m["nn"]].add(name[2:])
    out = {}
    for nn, names in sorted(by_nn.items()):
        def score(dog: str) -> float:
            have = set(dialogues[dog])
            return len(names & have) / len(names | have)
        ranked = sorted(dialogues, key=score, reverse=True)
        if not ranked or score(ranked[0]) < 0.5:
            continue
        tied = [d for d in ranked if score(d) == score(ranked[0])]
        if nn in _TIES and score(_TIES[nn]) >= 0.5:
            out[nn] = _TIES[nn]
        elif len({character(d) for d in tied}) == 1:
            out[nn] = ranked[0]
        else:
            log.warning("dialogue file number %s matches %s equally well; its person stays unknown", nn, tied)
    return out


# Three dialogue numbers have the same node ids as three files (DOG, CHIEF4 and WITCH4: four greetings and
# four answers each), so the clip names cannot tell them apart (DOG.DOG even scores best for all three).
# 14 is the guard dog: its Joe lines are the short ones ("Nice doggy." 1.4 s against 1.8 s and 1.6 s for
# "Hi, I'm Joe King..."), its 0009P1 "Woof!" lasts 0.7 s. 19 and 78 are the Pygmy chief and the witch
# doctor speaking Pygmy, told apart by voice: a classifier trained on the other answers (``voice_labels``'
# features) gives all six answers of 78 to the witch doctor (mean p 0.68), and those of 19 score the chief
# above the witch doctor (0.11 against 0.03).
_TIES = {"14": "DOG.DOG", "19": "CHIEF4.DOG", "78": "WITCH4.DOG"}

# dialogue file stem (digits dropped) -> character, where the game's own text names them otherwise
_CHARACTERS = {
    "AND": "anderson", "JIM": "jimmy", "LARIS": "mike_laris", "LOU": "skip", "PRIN": "azura",
    "SEC": "secretary", "SHOWERAM": "shower_amazon", "TALLPYG": "tall_pygmy", "TAM": "mary_lou",
    "WITCH": "witch_doctor",
}


def character(dialogue_file: str) -> str:
    """``SPARKY3.DOG`` -> ``sparky``: a character's dialogue files share a stem and differ by a number."""
    stem = re.sub(r"\d+$", "", dialogue_file.rsplit(".", 1)[0].upper())
    return _CHARACTERS.get(stem, stem.lower())


def cutaway_lines(data: bytes) -> list[list[bytes]]:
    """Candidate line lists of a ``*.CUT`` bank: its texts are length-prefixed strings between the
    offsets in header words 4 and 5; zero bytes between them are padding in most files and empty lines in
    others, so both readings are returned and the caller keeps the one its clip names fit."""
    if len(data) < 0x20 or data[:4] != b"AmBk":
        return []
    start, end = (0x14 + v for v in struct.unpack(">HH", data[0x1C:0x20]))
    readings = []
    for zeros_are_lines in (False, True):
        lines, p = [], start
        while p < end and p < len(data) and data[p] == 0:
            p += 1
        while p < min(end, len(data)):
            n = data[p]
            if n or zeros_are_lines:
                lines.append(data[p + 1:p + 1 + n])
            p += 1 + n
        readings.append(lines)
    return readings


def _cut_ref(name: str) -> tuple[str, int, int] | None:
    """``C15C_012`` -> (``C15C``, line 1, part 2); ``C103F242`` -> (``C103F``, 24, 2)."""
    m = re.match(r"^([A-Z][A-Z0-9]{1,4}?)_*(\d\d)([0-9A-Z])$", name)
    if not m:
        return None
    return m[1], int(m[2]), int(m[3], 36)


def cutaway_texts(names: list[str], banks: dict[str, bytes]) -> dict[str, str]:
    """{clip name: text} for cutaway clips, per cutaway file only where every clip of the file lands on a
    non-empty part of some line (else the file's layout was not understood and none of it is used)."""
    by_file: dict[str, list[tuple[str, int, int]]] = defaultdict(list)
    for name in names:
        ref = _cut_ref(name)
        if ref and f"{ref[0]}.CUT" in banks:
            by_file[ref[0]].append((name, ref[1], ref[2]))
    out: dict[str, str] = {}
    for cut, refs in by_file.items():
        for lines in cutaway_lines(banks[f"{cut}.CUT"]):
            found = {}
            for name, line, k in refs:
                ps = parts(lines[line - 1]) if 0 < line <= len(lines) else []
                if k <= len(ps) and ps[k - 1]:
                    found[name] = ps[k - 1]
            if len(found) == len(refs):
                out.update(found)
                break
    return out


JOE_RESPONSES_LINE = 1188  # QUEEN2.JAS line of Joe's response 1 ("It doesn't seem to open")
JOE_RESPONSES = 40         # JOE0001..JOE0040: responses and menu words; JOE0041 on: object descriptions


def description_line(n: int) -> int:
    """QUEEN2.JAS line (1-based) that ``JOEnnnnk`` reads.

    Found by transcribing a sample of the clips (Whisper tiny.en) and matching them to the text lines:
    JOE0001..0040 read lines 1188..1227 (Joe's stock answers, then menu words), JOE0041 on read the
    object descriptions from line 1 (JOE0046 "Gosh, it's a left handed can opener" is line 6).
    """
    return n + JOE_RESPONSES_LINE - 1 if n <= JOE_RESPONSES else n - JOE_RESPONSES


def description_texts(names: list[str], jas2: bytes | None) -> dict[str, str]:
    """{``JOEnnnnk``: text} from ``QUEEN2.JAS`` (CRLF lines), used only if nearly every clip lands on a
    non-empty part (else the numbering is not what ``description_line`` says and none is used)."""
    refs = [(n, int(n[3:7]), int(n[7], 36)) for n in names if re.match(r"^JOE\d{5}$", n)]
    if not jas2 or not refs:
        return {}
    lines = jas2.split(b"\r\n")
    out = {}
    for name, n, k in refs:
        i = description_line(n)
        ps = parts(lines[i - 1]) if 0 < i <= len(lines) else []
        if k <= len(ps) and ps[k - 1]:
            out[name] = ps[k - 1]
    if len(out) < 0.9 * len(refs):
        log.warning("QUEEN2.JAS: only %d of %d JOE clips fit its lines; no description text used", len(out), len(refs))
        return {}
    return out


# --- labels -------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Label:
    speaker: str             # character id without the source prefix ("joe", "sparky", "unknown")
    evidence: str            # how the speaker is known: "name", "dialogue-file", "none"
    kind: str                # "dialogue", "description", "cutaway", "other"
    game_text: str | None = None


def label_clips(names: list[str], banks: dict[str, bytes]) -> dict[str, Label]:
    """A ``Label`` for every clip name (``020006J1``...), from the names and the game's text banks."""
    dialogues = {n: clip_texts(dialogue_lines(b)) for n, b in banks.items() if n.endswith(".DOG")}
    files = match_dialogues(names, dialogues)
    cut_text = cutaway_texts(names, banks)
    joe_text = description_texts(names, banks.get("QUEEN2.JAS"))
    labels = {}
    for name in names:
        m = _CLIP.match(name)
        if m:
            dog = files.get(m["nn"])
            text = dialogues[dog].get(name[2:]) if dog else None
            if m["who"] == "J":
                labels[name] = Label("joe", "name", "dialogue", text)
            elif dog:
                labels[name] = Label(character(dog), "dialogue-file", "dialogue", text)
            else:
                labels[name] = Label("unknown", "none", "dialogue")
        elif re.match(r"^JOE\d{5}$", name):
            labels[name] = Label("joe", "name", "description", joe_text.get(name))
        elif _cut_ref(name) and f"{_cut_ref(name)[0]}.CUT" in banks:
            labels[name] = Label("unknown", "none", "cutaway", cut_text.get(name))
        else:
            labels[name] = Label("unknown", "none", "other")
    return labels


# --- extraction ---------------------------------------------------------------------------------------

# ``44SSSSSS``, ``1000SSSS``, ``103ASSSS``: a number padded with S, no J/P. Sound effects, not voice: Whisper
# tiny.en finds no speech (no-speech probability > 0.5 or no text) in 131 of the 132 of them.
_SOUND_EFFECT = re.compile(r"^\d+[A-C]?S+$")

def extract(out_dir: Path, report: PrepareReport, jobs: int = 1, resource: Path = RESOURCE,
            only: set[str] | None = None) -> list[Utterance]:
    """Write ``out_dir/queen/audio/<clip>.wav`` for every voice clip of ``resource`` and return the rows.
    ``only``: just these clip ids (``queen/<clip>``, e.g. a few test clips); their speakers then come from the
    dialogue files alone (the voice classifier needs the whole cast)."""
    resource = Path(resource)
    if not resource.is_file():
        raise missing(SOURCE, resource, PACKAGE)
    entries = read_index(resource)
    file_size = resource.stat().st_size
    audio_dir = Path(out_dir) / SOURCE / "audio"
    banks: dict[str, bytes] = {}
    clips: list[Clip] = []
    with open(resource, "rb") as f:
        for e in entries:
            where = f"{resource}:{e.name}"
            if e.offset + e.size > file_size:
                report.skip(where, f"entry points past the end of the file ({e.offset}+{e.size} > {file_size} bytes)")
                continue
            upper = e.name.upper()
            if upper.endswith((".DOG", ".CUT")) or upper == "QUEEN2.JAS":
                f.seek(e.offset)
                banks[upper] = f.read(e.size)
            elif upper.endswith(".SB"):
                if _SOUND_EFFECT.match(e.name[:-3]):
                    if only is None:
                        report.skip(where, "a room sound effect, not speech (<room>SSSS clips)")
                    continue
                f.seek(e.offset)
                start = mp3_start(f.read(min(e.size, 256)))
                if start is None:
                    report.skip(where, "no MPEG audio frame in the first 256 bytes")
                    continue
                stem = e.name[:-3]
                clips.append(Clip(f"{SOURCE}/{stem}", resource, audio_dir / f"{stem}.wav",
                                  e.offset + start, e.size - start))
    labels = label_clips([c.uid.split("/", 1)[1] for c in clips], banks)  # speakers are matched over them all
    if only is not None:
        absent = only - {c.uid for c in clips}
        if absent:
            raise EdgeSSLError(f"{resource}: no voice clip {', '.join(sorted(absent))}")
        clips = [c for c in clips if c.uid in only]
    done = convert_clips(clips, jobs=jobs, desc=SOURCE, skip=report.skip)
    utts = []
    for clip in clips:
        r = done.get(clip.uid)
        if r is None:
            continue
        lab = labels[clip.uid.split("/", 1)[1]]
        extra = {"source": SOURCE, "lang": "en", "duration": r.duration, "orig_sr": r.orig_sr,
                 "kind": lab.kind, "speaker_evidence": lab.evidence}
        if lab.game_text:
            extra["game_text"] = lab.game_text
        utts.append(Utterance(clip.uid, clip.out.resolve(), r.num_samples, None, f"{SOURCE}:{lab.speaker}", extra))
    return utts if only is not None else voice_labels(utts)


# --- voices: who speaks the cutaway lines -------------------------------------------------------------

UNKNOWN = f"{SOURCE}:unknown"
JOE_MIN_P = 0.95  # 5-fold CV on the dialogue clips: 99.7 % of the clips given to Joe at p >= 0.95 are his


def voice_features(paths: list[Path]) -> "np.ndarray":
    """(N, 40) per-clip voice statistics: mean and std of 20 MFCCs (40 mel bands up to 5.4 kHz, the
    band the 11 kHz originals have) over the loudest 70 % of frames."""
    import numpy as np
    import soundfile as sf
    import torch

    from edge_ssl.audio.features import MFCC, FeatureConfig
    from edge_ssl.threads import one_thread

    mfcc = MFCC(FeatureConfig(n_mels=40, n_mfcc=20, f_max=5400.0, delta_order=0, lifter=0.0))
    feats = []
    with one_thread(), torch.no_grad():
        for path in paths:
            wave, _ = sf.read(str(path), dtype="float32")
            f = mfcc(torch.from_numpy(wave)[None])[0].numpy()  # (T, 20)
            loud = f[f[:, 0] > np.percentile(f[:, 0], 30)]
            f = loud if len(loud) > 10 else f
            feats.append(np.concatenate([f.mean(0), f.std(0)]))
    return np.stack(feats)


def voice_labels(utts: list[Utterance]) -> list[Utterance]:
    """Guess the speaker of every clip whose speaker the files do not give (cutaways, scene lines).

    A logistic regression on per-clip MFCC statistics, trained on the clips whose speaker is known
    (dialogue files, Joe's names), scores each unknown clip: its top guesses go to ``voice_guess``
    ({character: probability}), and a clip scored Joe with p >= ``JOE_MIN_P`` becomes Joe's
    (``speaker_evidence: "voice"``). Other characters share actors and confuse each other (Skip and
    Sparky, the women), so their guesses stay hints: the held-out split uses them to keep possible
    held-out voices out of training, never as labels.
    """
    import numpy as np
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    known = [u for u in utts if u.speaker != UNKNOWN]
    unknown = [u for u in utts if u.speaker == UNKNOWN]
    if not unknown or len({u.speaker for u in known}) < 2:
        return utts
    log.info("%s: guessing the speaker of %d clips from their voices", SOURCE, len(unknown))
    x = voice_features([u.audio_path for u in known + unknown])
    clf = make_pipeline(StandardScaler(), LogisticRegression(C=0.5, max_iter=3000))
    clf.fit(x[:len(known)], [u.speaker for u in known])
    probs = clf.predict_proba(x[len(known):])  # (U, speakers)
    names = [c.split(":", 1)[1] for c in clf.classes_]
    for u, p in zip(unknown, probs):
        top = np.argsort(-p)[:3]
        u.extra["voice_guess"] = {names[i]: round(float(p[i]), 3) for i in top if p[i] >= 0.01}
        if names[top[0]] == "joe" and p[top[0]] >= JOE_MIN_P:
            u.speaker, u.extra["speaker_evidence"] = f"{SOURCE}:joe", "voice"
    return utts
