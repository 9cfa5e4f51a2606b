import json

import pytest

from edge_ssl.stages import Context, Stage, run_stages


def make_and_use(calls: list[str]) -> list[Stage]:
    """Two stages: ``make`` writes a file and returns n=3; ``use`` doubles make's n. Each logs into ``calls``."""
    def make(ctx):
        calls.append("make")
        p = ctx.path("thing.txt")
        p.write_text("x")
        return {"thing_path": str(p), "n": 3}

    def use(ctx):
        calls.append("use")
        return {"n2": ctx.results["make"]["n"] * 2}

    return [Stage("make", "make a thing", make), Stage("use", "use it", use)]


def test_stages_run_once_and_rerun_when_outputs_vanish(tmp_path):
    calls = []
    stages = make_and_use(calls)
    out = run_stages(stages, Context(tmp_path), echo=lambda s: None)
    assert out["use"]["n2"] == 6 and calls == ["make", "use"]
    run_stages(stages, Context(tmp_path), echo=lambda s: None)
    assert calls == ["make", "use"]  # both reused
    (tmp_path / "thing.txt").unlink()
    run_stages(stages, Context(tmp_path), echo=lambda s: None)
    assert calls == ["make", "use", "make"]  # lost output reruns its stage only
    assert json.loads((tmp_path / "stages" / "make.json").read_text())["n"] == 3


def test_failed_stage_leaves_no_record(tmp_path):
    def boom(ctx):
        raise RuntimeError("x")
    try:
        run_stages([Stage("boom", "b", boom)], Context(tmp_path), echo=lambda s: None)
    except RuntimeError:
        pass
    assert not (tmp_path / "stages" / "boom.json").exists()


def test_demo_scales_cover_every_training_stage():
    from edge_ssl.demo import SCALES, STAGES
    from edge_ssl.recipes.runner import resolve_config_path

    trained = {"hubert_iter1", "hubert_iter2", "data2vec", "distill", "finetune", "mae", "simclr"}
    assert trained <= {s.name for s in STAGES}
    for scale in SCALES.values():
        assert set(scale.steps) == trained and all(n > 0 for n in scale.steps.values())
        assert set(scale.overrides) <= trained
    for name in ("hubert/tiny", "hubert/tiny_iter2", "data2vec/tiny", "distill/tiny", "ctc/tiny", "mae/tiny",
                 "simclr/tiny"):
        assert resolve_config_path(name).is_file()


def test_demo_tiny_mae_overrides_apply_to_its_recipe_config():
    from edge_ssl.config import load_config
    from edge_ssl.demo import SCALES
    from edge_ssl.recipes import pretrain_mae
    from edge_ssl.recipes.runner import resolve_config_path

    path = resolve_config_path("mae/tiny")
    plain = load_config(pretrain_mae.Config, path)
    tiny = load_config(pretrain_mae.Config, path, list(SCALES["tiny"].overrides["mae"]))
    assert tiny.model.decoder_depth < plain.model.decoder_depth  # the recipe's own config stays as it is


def test_only_runs_the_named_stages_on_the_records_of_the_others(tmp_path):
    from edge_ssl.errors import EdgeSSLError

    calls = []
    stages = make_and_use(calls)
    with pytest.raises(EdgeSSLError, match="stage 'make' has not finished"):
        run_stages(stages, Context(tmp_path / "fresh"), echo=lambda s: None, only=("use",))
    run_stages(stages, Context(tmp_path), echo=lambda s: None)
    out = run_stages(stages, Context(tmp_path), echo=lambda s: None, force=("use",), only=("use",))
    assert calls == ["use", "make", "use", "use"] and out["use"]["n2"] == 6
    rec = json.loads((tmp_path / "stages" / "use.json").read_text())
    assert rec["cpu_seconds"] >= 0 and rec["seconds"] >= 0


def test_demo_heldout_clips_keep_every_voice(tmp_path):
    from edge_ssl.data.manifest import Utterance, read_manifest, write_manifest
    from edge_ssl.demo import SCALES, Scale, heldout_clips

    (tmp_path / "a.wav").write_bytes(b"")
    voices = ["v1"] * 5 + ["v2"] * 3 + ["v3"]
    test = write_manifest([Utterance(f"u{i}", tmp_path / "a.wav", 16000, "hi", v) for i, v in enumerate(voices)],
                          tmp_path / "test.jsonl")
    ctx = Context(tmp_path / "demo", {"scale": Scale(10, {}, 1, heldout_per_voice=2)}, {"corpus": {"test_path": str(test)}})
    kept = read_manifest(heldout_clips(ctx))
    assert [u.id for u in kept] == ["u0", "u1", "u5", "u6", "u8"]  # the first two of each voice, in order
    ctx.options["scale"] = Scale(10, {}, 1)
    assert heldout_clips(ctx) == str(test)  # 0: the whole split
    assert SCALES["tiny"].heldout_per_voice and not SCALES["full"].heldout_per_voice
