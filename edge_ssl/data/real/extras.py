"""Small real-voice sources from Debian packages: Hedgewars voice packs, KLettres and KTuberling words,
Asterisk prompts in French, Italian and Russian.

Each is a folder of ordinary audio files (Ogg Vorbis, or 8 kHz WAV for Asterisk) that soundfile reads;
what this module adds is who speaks and in which language, from the packages' own layout:

- hedgewars (``hedgewars-data``): ``Data/Sounds/voices/<Pack>/<Event>.ogg``, one actor per pack (speaker =
  pack). A ``_xx`` suffix names the language (``Default_uk`` is Ukrainian, ``Russian_pl`` Polish); the
  other packs are English, accents included (``Russian`` is English with a Russian accent). The file
  name is the game event ("Reinforcements"), not what is said, so it goes to ``event``, not ``text``.
- klettres (``klettres-data``): ``<lang>/sounds.xml`` lists ``<sound name="A" file="en/alpha/A.ogg"/>``;
  one speaker per language folder. For English the name is the letter or word said, kept as ``text``
  when it is a letter or has a vowel (``car``, ``aw``), not for bare digraph sounds (``ch``, ``th``).
- ktuberling (``ktuberling-data``): ``sounds/<lang>.soundtheme`` lists ``<sound name="egypt_camel"
  file="en/egypt_camel.ogg"/>``; one speaker per language folder. English text is the name without its
  playground prefix (``camel``), with the package's few misspellings corrected.
- asterisk-fr/-it/-ru (``asterisk-core-sounds-{fr,it,ru}-wav``): ``/usr/share/asterisk/sounds/
  <ll>_<CC>_<sex>_<Voice>/**.wav``, 8 kHz telephone prompts, one voice per package, unlabeled here.

A file listed by several languages (KDE themes share recordings) is kept once, under the folder it
lives in. Sources never read: the English and Spanish Asterisk prompts (reserved for evaluation).
"""
from __future__ import annotations

import logging
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edge_ssl.data.manifest import Utterance
from edge_ssl.data.prepare import PrepareReport
from edge_ssl.data.real import Clip, convert_clips, missing
from edge_ssl.errors import EdgeSSLError

log = logging.getLogger(__name__)

HEDGEWARS_VOICES = Path("/usr/share/games/hedgewars/Data/Sounds/voices")
KLETTRES_ROOT = Path("/usr/share/klettres")
KTUBERLING_SOUNDS = Path("/usr/share/ktuberling/sounds")
ASTERISK_SOUNDS = Path("/usr/share/asterisk/sounds")


@dataclass
class Item:
    """One package file to convert, with what the package says about it."""
    path: Path
    name: str                 # clip name within the source (unique)
    speaker: str              # without the source prefix
    lang: str                 # "en" or an ISO 639 code
    text: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def _lang(code: str) -> str:
    """Folder language code -> ISO 639: ``pt_BR`` -> ``pt``, ``sr@latin`` -> ``sr``, ``en_GB`` -> ``en``."""
    return re.split(r"[_@]", code, maxsplit=1)[0].lower()


def _clip_name(*parts: str) -> str:
    return re.sub(r"[^\w.-]+", "_", "-".join(parts))


def convert_items(source: str, items: list[Item], out_dir: Path, report: PrepareReport,
                  jobs: int = 1) -> list[Utterance]:
    """Convert ``items`` into ``out_dir/<source>/audio/<name>.wav`` and return the manifest rows."""
    names = [it.name for it in items]
    if len(set(names)) != len(names):
        dup = sorted({n for n in names if names.count(n) > 1})[:3]
        raise EdgeSSLError(f"{source}: two files map to the same clip name ({', '.join(dup)})")
    audio_dir = Path(out_dir) / source / "audio"
    clips = [Clip(f"{source}/{it.name}", it.path, audio_dir / f"{it.name}.wav") for it in items]
    done = convert_clips(clips, jobs=jobs, desc=source, skip=report.skip)
    utts = []
    for it, clip in zip(items, clips):
        r = done.get(clip.uid)
        if r is None:
            continue
        extra = {"source": source, "lang": it.lang, "duration": r.duration, "orig_sr": r.orig_sr,
                 "package_file": str(it.path), **it.extra}
        utts.append(Utterance(clip.uid, clip.out.resolve(), r.num_samples, it.text, f"{source}:{it.speaker}", extra))
    return utts


# --- hedgewars ----------------------------------------------------------------------------------------

def hedgewars_items(voices: Path) -> list[Item]:
    items = []
    for pack in sorted(p for p in voices.iterdir() if p.is_dir()):
        m = re.match(r"^(.*)_([a-z]{2,3})$", pack.name)
        lang = m[2] if m else "en"
        for f in sorted(pack.glob("*.ogg")):
            items.append(Item(f, _clip_name(pack.name, f.stem), pack.name.lower(), lang, None,
                              {"event": f.stem, "voice_pack": pack.name}))
    return items


def extract_hedgewars(out_dir: Path, report: PrepareReport, jobs: int = 1,
                      voices: Path = HEDGEWARS_VOICES) -> list[Utterance]:
    """Hedgewars voice packs: exclamations, one actor per pack."""
    if not Path(voices).is_dir():
        raise missing("hedgewars", voices, "hedgewars-data")
    return convert_items("hedgewars", hedgewars_items(Path(voices)), out_dir, report, jobs)


# --- KLettres and KTuberling (KDE): an XML list of name -> file per language ----------------------------

def _sound_list(xml: Path, report: PrepareReport) -> list[tuple[str, str]]:
    """``(name, file)`` of every ``<sound>`` element of ``xml``; a malformed file is reported and skipped."""
    try:
        root = ET.parse(xml).getroot()
    except (ET.ParseError, OSError) as e:
        report.skip(xml, f"unreadable sound list ({e})")
        return []
    return [(s.get("name", ""), s.get("file", "")) for s in root.iter("sound") if s.get("file")]


def _kde_items(root: Path, lists: list[Path], report: PrepareReport, english_text) -> list[Item]:
    """Every file the lists name, once, under the language folder it lives in."""
    seen: dict[Path, Item] = {}
    for xml in lists:
        for name, rel in _sound_list(xml, report):
            path = root / rel
            if path in seen:
                continue
            if not path.is_file():
                report.skip(path, f"listed in {xml.name} but the file is missing")
                continue
            folder = Path(rel).parts[0]
            lang = _lang(folder)
            text = english_text(name) if lang == "en" else None
            seen[path] = Item(path, _clip_name(*Path(rel).with_suffix("").parts), folder, lang, text,
                              {"word": name})
    return sorted(seen.values(), key=lambda it: it.name)


def klettres_text(name: str) -> str | None:
    """The spoken letter or word, lower case; None for a bare consonant sound (``ch``, ``th``)."""
    word = name.strip().lower()
    if len(word) == 1 and word.isalpha():
        return word
    return word if re.fullmatch(r"[a-z']+", word) and re.search(r"[aeiouy]", word) else None


def extract_klettres(out_dir: Path, report: PrepareReport, jobs: int = 1,
                     root: Path = KLETTRES_ROOT) -> list[Utterance]:
    """KLettres letters and syllables, one speaker per language folder."""
    root = Path(root)
    lists = sorted(root.glob("*/sounds.xml"))
    if not lists:
        raise missing("klettres", root / "<lang>/sounds.xml", "klettres-data")
    return convert_items("klettres", _kde_items(root, lists, report, klettres_text), out_dir, report, jobs)


# KTuberling's English file names that are not the word said
_KTUBERLING_WORDS = {"broccolli": "broccoli", "sphynx": "sphinx", "fallingstar": "falling star"}


def ktuberling_text(name: str) -> str:
    """``egypt_camel`` -> ``camel``: the playground prefix (egypt, moon, pizzeria, tv) is not said."""
    word = name.split("_", 1)[1] if "_" in name else name
    word = word.lower()
    return _KTUBERLING_WORDS.get(word, word.replace("_", " "))


def extract_ktuberling(out_dir: Path, report: PrepareReport, jobs: int = 1,
                       sounds: Path = KTUBERLING_SOUNDS) -> list[Utterance]:
    """KTuberling's spoken object names, one speaker per language folder."""
    sounds = Path(sounds)
    lists = sorted(sounds.glob("*.soundtheme"))
    if not lists:
        raise missing("ktuberling", sounds / "<lang>.soundtheme", "ktuberling-data")
    return convert_items("ktuberling", _kde_items(sounds, lists, report, ktuberling_text),
                         out_dir, report, jobs)


# --- Asterisk prompts ---------------------------------------------------------------------------------

def asterisk_items(folder: Path) -> list[Item]:
    """``fr_CA_f_June/digits/1.wav`` -> clip ``digits-1``, speaker ``june``, lang ``fr``."""
    lang, *_, voice = folder.name.split("_")
    return [Item(f, _clip_name(*f.relative_to(folder).with_suffix("").parts), voice.lower(), lang.lower(), None,
                 {"prompt": f.relative_to(folder).with_suffix("").as_posix()})
            for f in sorted(folder.rglob("*.wav")) if f.is_file()]


def _extract_asterisk(lang: str, out_dir: Path, report: PrepareReport, jobs: int, sounds: Path) -> list[Utterance]:
    source = f"asterisk-{lang}"
    # only this language's voice folder (e.g. fr_CA_f_June): the en and es prompts are never read
    folders = sorted(p for p in Path(sounds).glob(f"{lang}_*_*_*") if p.is_dir() and not p.is_symlink())
    if not folders:
        raise missing(source, Path(sounds) / f"{lang}_*", f"asterisk-core-sounds-{lang}-wav")
    items = []
    for folder in folders:
        for it in asterisk_items(folder):
            if len(folders) > 1:  # two voices of one language: keep their clip names apart
                it.name = f"{folder.name}-{it.name}"
            items.append(it)
    return convert_items(source, items, out_dir, report, jobs)


def extract_asterisk_fr(out_dir: Path, report: PrepareReport, jobs: int = 1,
                        sounds: Path = ASTERISK_SOUNDS) -> list[Utterance]:
    """Canadian French prompts (June)."""
    return _extract_asterisk("fr", out_dir, report, jobs, sounds)


def extract_asterisk_it(out_dir: Path, report: PrepareReport, jobs: int = 1,
                        sounds: Path = ASTERISK_SOUNDS) -> list[Utterance]:
    """Italian prompts (Carlo)."""
    return _extract_asterisk("it", out_dir, report, jobs, sounds)


def extract_asterisk_ru(out_dir: Path, report: PrepareReport, jobs: int = 1,
                        sounds: Path = ASTERISK_SOUNDS) -> list[Utterance]:
    """Russian prompts (IvrvoiceRU)."""
    return _extract_asterisk("ru", out_dir, report, jobs, sounds)
