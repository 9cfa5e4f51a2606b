import json
from pathlib import Path

import pytest

from edge_ssl.data.manifest import Utterance, read_manifest
from edge_ssl.data.prepare import PrepareReport
from edge_ssl.data.real import SOURCES, MissingPackage, corpus, load_source, missing
from edge_ssl.errors import EdgeSSLError

MIN = 16000 * 60  # samples in a minute


def utt(uid, speaker, minutes=1.0, lang="en", **extra):
    return Utterance(uid, Path(f"/x/{uid}.wav"), int(minutes * MIN), None, speaker,
                     {"source": uid.split("/")[0], "lang": lang, **extra})


def game():
    rows = [utt(f"queen/j{i}", "queen:joe", 5) for i in range(20)]                  # 100 min of the hero
    rows += [utt(f"queen/a{i}", "queen:jimmy", 4) for i in range(3)]                # 12 min
    rows += [utt(f"queen/b{i}", "queen:death", 4) for i in range(3)]                # 12 min
    rows += [utt(f"queen/c{i}", "queen:klunk", 4) for i in range(3)]                # 12 min
    rows += [utt(f"queen/d{i}", "queen:bob", 4) for i in range(3)]
    rows += [utt("queen/cut1", "queen:unknown", voice_guess={"death": 0.6, "bob": 0.3}),
             utt("queen/cut2", "queen:unknown", voice_guess={"bob": 0.9, "klunk": 0.05}),
             utt("hedgewars/x", "hedgewars:pirate"), utt("klettres/fr-a", "klettres:fr", lang="fr")]
    return rows


def test_split_is_speaker_disjoint_never_holds_out_joe_and_keeps_unsure_voices_out():
    rows = game()
    heldout = corpus.pick_heldout([u for u in rows if u.extra["lang"] == "en"],
                                  preference=("queen:joe", "queen:jimmy", "queen:death", "queen:klunk", "queen:bob"))
    assert heldout == ["queen:jimmy", "queen:death", "queen:klunk"]  # joe skipped; stops once >= 30 min
    parts = corpus.split(rows, heldout)
    test, train = parts[corpus.TEST], parts[corpus.TRAIN]
    assert {u.speaker for u in test} == set(heldout)
    assert not {u.speaker for u in test} & {u.speaker for u in train}
    assert sum(u.num_samples for u in test) / MIN >= 30
    assert [u.id for u in parts[corpus.UNSURE]] == ["queen/cut1"]  # may be Death: in no split
    assert "queen/cut2" in {u.id for u in train}
    assert [u.id for u in parts[corpus.OTHER]] == ["klettres/fr-a"]
    assert "queen:joe" in {u.speaker for u in train}


def fake_source(name, n=3, lang="en"):
    def extract(out_dir, report, jobs=1):
        import numpy as np
        import soundfile as sf
        rows = []
        for i in range(n):
            wav = Path(out_dir) / name / "audio" / f"{i}.wav"
            wav.parent.mkdir(parents=True, exist_ok=True)
            sf.write(str(wav), np.full(16000, 0.1, np.float32), 16000, subtype="PCM_16")
            rows.append(Utterance(f"{name}/{i}", wav, 16000, None, f"{name}:s{i % 2}",
                                  {"source": name, "lang": lang, "duration": 1.0, "orig_sr": 16000}))
        report.skip(f"{name}/bad", "too short (0.10 s < 0.3 s)")
        return rows
    return extract


def test_prepare_real_runs_what_it_can_and_writes_every_manifest(tmp_path, monkeypatch, caplog):
    def absent(out_dir, report):
        raise missing("klettres", "/usr/share/klettres", "klettres-data")

    table = {"queen": fake_source("queen"), "hedgewars": fake_source("hedgewars"),
             "asterisk-fr": fake_source("asterisk-fr", lang="fr"), "klettres": absent}
    monkeypatch.setattr(corpus, "load_source", lambda name: table[name])
    monkeypatch.setattr(corpus, "HELDOUT_PREFERENCE", ("queen:s1",))
    stats = corpus.prepare_real(tmp_path, ["queen", "hedgewars", "asterisk-fr", "klettres"])
    assert stats["problems"] == {"klettres": "klettres: /usr/share/klettres not found; install it with: "
                                             "sudo apt-get install klettres-data"}
    assert "sudo apt-get install klettres-data" in caplog.text
    for name in ["queen", "hedgewars", "asterisk-fr", "heldout_real_test", "train_real_en", "unlabeled_other"]:
        assert (tmp_path / f"{name}.jsonl").is_file(), name
    test = read_manifest(tmp_path / "heldout_real_test.jsonl")
    assert {u.speaker for u in test} == {"queen:s1"} and test[0].audio_path.is_file()
    assert {u.speaker for u in read_manifest(tmp_path / "train_real_en.jsonl")} == {"queen:s0", "hedgewars:s0", "hedgewars:s1"}
    assert len(read_manifest(tmp_path / "unlabeled_other.jsonl")) == 3
    saved = json.loads((tmp_path / "corpus.json").read_text())
    assert saved["heldout_speakers"] == ["queen:s1"]
    assert saved["sources"]["queen"]["clips"] == 3 and saved["sources"]["queen"]["speakers"] == 2
    assert saved["splits"]["heldout_real_test"]["clips"] == 1
    assert (tmp_path / "skipped.tsv").read_text().count("too short") == 3

    # a later run of one source rebuilds the splits with the sources prepared before
    stats = corpus.prepare_real(tmp_path, ["hedgewars"])
    assert stats["splits"]["heldout_real_test"]["clips"] == 1 and "queen" in stats["sources"]


def test_nothing_prepared_is_an_error(tmp_path, monkeypatch):
    def absent(out_dir, report):
        raise MissingPackage("queen: /usr/share/scummvm/... not found; install it with: sudo apt-get install x")

    monkeypatch.setattr(corpus, "load_source", lambda name: absent)
    with pytest.raises(EdgeSSLError, match="no real-audio source produced a clip: queen: .*apt-get install x"):
        corpus.prepare_real(tmp_path, ["queen"])
    with pytest.raises(EdgeSSLError, match="unknown real-audio source"):
        corpus.prepare_real(tmp_path, ["nope"])


def test_unwritten_reader_is_a_clear_message(monkeypatch):
    assert SOURCES["sky"] == "edge_ssl.data.real.sky"
    monkeypatch.setitem(SOURCES, "sky", "edge_ssl.data.real.no_such_reader")
    with pytest.raises(EdgeSSLError, match="sky: its reader edge_ssl.data.real.no_such_reader is not written yet"):
        load_source("sky")
    assert callable(load_source("hedgewars"))


def test_cli_prepare_real(tmp_path, monkeypatch, run_cli):
    monkeypatch.setattr(corpus, "load_source", lambda name: fake_source(name))
    monkeypatch.setattr(corpus, "HELDOUT_PREFERENCE", ("queen:s1",))
    code, err = run_cli("prepare", "real", tmp_path, "--sources", "queen,hedgewars")
    assert code in (0, None), err
    assert (tmp_path / "heldout_real_test.jsonl").is_file()


def test_report_collects_without_logging(caplog):
    report = corpus._Report()
    report.skip("a.ogg", "silent")
    assert report.skipped == [("a.ogg", "silent")] and "a.ogg" not in caplog.text
    assert isinstance(report, PrepareReport)
