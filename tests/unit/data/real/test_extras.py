import numpy as np
import pytest
import soundfile as sf

from edge_ssl.data.prepare import PrepareReport
from edge_ssl.data.real import MissingPackage, extras


def tone(path, seconds=0.6, sr=44100, freq=220.0, amp=0.3, fmt=None):
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(int(seconds * sr)) / sr
    sf.write(str(path), (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32), sr, format=fmt)
    return path


def test_hedgewars_packs_speakers_languages_and_skips(tmp_path):
    voices = tmp_path / "voices"
    tone(voices / "Default" / "Amazing.ogg")
    tone(voices / "Default" / "Ow1.ogg", seconds=0.15)                 # too short
    tone(voices / "Pirate" / "Amazing.ogg", freq=180)
    tone(voices / "Pirate" / "Hmm.ogg", amp=0.0)                       # silent
    tone(voices / "Default_pl" / "Boring.ogg", freq=300)
    (voices / "Pirate" / "Broken.ogg").write_bytes(b"OggS but not really" * 5)
    report = PrepareReport()
    utts = extras.extract_hedgewars(tmp_path / "out", report, voices=voices)
    rows = {u.id: u for u in utts}
    assert set(rows) == {"hedgewars/Default-Amazing", "hedgewars/Pirate-Amazing", "hedgewars/Default_pl-Boring"}
    assert rows["hedgewars/Pirate-Amazing"].speaker == "hedgewars:pirate"
    assert rows["hedgewars/Default_pl-Boring"].extra["lang"] == "pl"
    assert rows["hedgewars/Default-Amazing"].extra["lang"] == "en"
    assert rows["hedgewars/Default-Amazing"].text is None  # the event name is not what is said
    assert rows["hedgewars/Default-Amazing"].extra["event"] == "Amazing"
    assert (tmp_path / "out" / "hedgewars" / "audio" / "Default-Amazing.wav").is_file()
    reasons = {p.rsplit("/", 2)[-2] + "/" + p.rsplit("/", 1)[-1]: r for p, r in report.skipped}
    assert "too short" in reasons["Default/Ow1.ogg"]
    assert "silent" in reasons["Pirate/Hmm.ogg"]
    assert "undecodable" in reasons["Pirate/Broken.ogg"]


def test_klettres_words_once_per_file_with_english_text(tmp_path):
    root = tmp_path / "klettres"
    tone(root / "en" / "alpha" / "A.ogg")
    tone(root / "en" / "syllab" / "car.ogg", freq=250)
    tone(root / "en" / "syllab" / "ch.ogg", freq=260)
    tone(root / "fr" / "alpha" / "e.ogg", freq=270)
    (root / "en" / "sounds.xml").write_text(
        '<klettres><language code="en"><alphabet><sound name="A" file="en/alpha/A.ogg" /></alphabet>'
        '<syllables><sound name="car" file="en/syllab/car.ogg" /><sound name="ch" file="en/syllab/ch.ogg" />'
        '<sound name="gone" file="en/syllab/gone.ogg" /></syllables></language></klettres>')
    (root / "fr" / "sounds.xml").write_text(
        '<klettres><language code="fr"><alphabet><sound name="E" file="fr/alpha/e.ogg" />'
        '<sound name="A" file="en/alpha/A.ogg" /></alphabet></language></klettres>')  # shares an English file
    report = PrepareReport()
    utts = extras.extract_klettres(tmp_path / "out", report, root=root)
    rows = {u.id: u for u in utts}
    assert set(rows) == {"klettres/en-alpha-A", "klettres/en-syllab-car", "klettres/en-syllab-ch", "klettres/fr-alpha-e"}
    assert (rows["klettres/en-alpha-A"].text, rows["klettres/en-syllab-car"].text) == ("a", "car")
    assert rows["klettres/en-syllab-ch"].text is None
    assert (rows["klettres/fr-alpha-e"].speaker, rows["klettres/fr-alpha-e"].extra["lang"]) == ("klettres:fr", "fr")
    assert rows["klettres/fr-alpha-e"].text is None
    assert [r for p, r in report.skipped if p.endswith("gone.ogg")] == ["listed in sounds.xml but the file is missing"]


def test_ktuberling_text_drops_the_playground_prefix(tmp_path):
    sounds = tmp_path / "sounds"
    tone(sounds / "en" / "egypt_camel.ogg")
    tone(sounds / "en" / "pizzeria_broccolli.ogg", freq=330)
    tone(sounds / "de" / "kamel.ogg", sr=22050)
    (sounds / "en.soundtheme").write_text(
        '<language code="en"><sound name="egypt_camel" file="en/egypt_camel.ogg" />'
        '<sound name="pizzeria_broccolli" file="en/pizzeria_broccolli.ogg" /></language>')
    (sounds / "de.soundtheme").write_text('<language code="de"><sound name="egypt_camel" file="de/kamel.ogg" /></language>')
    utts = extras.extract_ktuberling(tmp_path / "out", PrepareReport(), sounds=sounds)
    rows = {u.id: u for u in utts}
    assert rows["ktuberling/en-egypt_camel"].text == "camel"
    assert rows["ktuberling/en-pizzeria_broccolli"].text == "broccoli"
    assert rows["ktuberling/de-kamel"].text is None and rows["ktuberling/de-kamel"].extra["lang"] == "de"
    assert rows["ktuberling/de-kamel"].extra["orig_sr"] == 22050


def test_asterisk_reads_only_its_language_and_says_what_to_install(tmp_path):
    sounds = tmp_path / "asterisk"
    tone(sounds / "fr_CA_f_June" / "digits" / "1.wav", sr=8000)
    tone(sounds / "fr_CA_f_June" / "vm-intro.wav", sr=8000, seconds=1.0)
    (sounds / "en_US_f_Allison").mkdir(parents=True)  # reserved: must never be read
    (sounds / "en_US_f_Allison" / "1.wav").write_bytes(b"reserved")
    (sounds / "fr").symlink_to(sounds / "fr_CA_f_June")  # Debian's alternatives link: not a second voice
    report = PrepareReport()
    utts = extras.extract_asterisk_fr(tmp_path / "out", report, sounds=sounds)
    assert sorted(u.id for u in utts) == ["asterisk-fr/digits-1", "asterisk-fr/vm-intro"]
    assert {(u.speaker, u.extra["lang"], u.extra["orig_sr"]) for u in utts} == {("asterisk-fr:june", "fr", 8000)}
    assert not report.skipped
    with pytest.raises(MissingPackage, match="apt-get install asterisk-core-sounds-it-wav"):
        extras.extract_asterisk_it(tmp_path / "out", PrepareReport(), sounds=sounds)


@pytest.mark.parametrize("extract, kw, package", [
    (extras.extract_hedgewars, "voices", "hedgewars-data"),
    (extras.extract_klettres, "root", "klettres-data"),
    (extras.extract_ktuberling, "sounds", "ktuberling-data"),
])
def test_missing_package_message(tmp_path, extract, kw, package):
    with pytest.raises(MissingPackage, match=f"sudo apt-get install {package}$"):
        extract(tmp_path / "out", PrepareReport(), **{kw: tmp_path / "absent"})


def test_process_pool_gives_the_same_clips(tmp_path):
    voices = tmp_path / "voices"
    for i in range(5):
        tone(voices / "Surfer" / f"Line{i}.ogg", freq=200 + 20 * i)
    one = extras.extract_hedgewars(tmp_path / "a", PrepareReport(), voices=voices)
    two = extras.extract_hedgewars(tmp_path / "b", PrepareReport(), jobs=2, voices=voices)
    assert [(u.id, u.num_samples) for u in one] == [(u.id, u.num_samples) for u in two]
    for u in one:
        assert (tmp_path / "b" / "hedgewars" / "audio" / u.audio_path.name).read_bytes() == u.audio_path.read_bytes()
