import json

import pytest

from edge_ssl.pipeline import Context, Stage, run_stages


def test_stages_run_once_and_rerun_when_outputs_vanish(tmp_path):
    calls = []

    def make(ctx):
        calls.append("make")
        p = ctx.path("thing.txt")
        p.write_text("x")
        return {"thing_path": str(p), "n": 3}

    def use(ctx):
        calls.append("use")
        return {"n2": ctx.results["make"]["n"] * 2}

    stages = [Stage("make", "make a thing", make), Stage("use", "use it", use)]
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
    from edge_ssl.recipes.common import resolve_config_path

    trained = {"hubert_iter1", "hubert_iter2", "data2vec", "distill", "finetune", "mae"}
    assert trained <= {s.name for s in STAGES}
    for scale in SCALES.values():
        assert set(scale.steps) == trained and all(n > 0 for n in scale.steps.values())
    for name in ("hubert/tiny", "hubert/tiny_iter2", "data2vec/tiny", "distill/tiny", "ctc/tiny", "mae/tiny"):
        assert resolve_config_path(name).is_file()


def test_only_runs_the_named_stages_on_the_records_of_the_others(tmp_path):
    from edge_ssl.errors import EdgeSSLError

    calls = []

    def make(ctx):
        calls.append("make")
        p = ctx.path("thing.txt")
        p.write_text("x")
        return {"thing_path": str(p), "n": 3}

    def use(ctx):
        calls.append("use")
        return {"n2": ctx.results["make"]["n"] * 2}

    stages = [Stage("make", "make a thing", make), Stage("use", "use it", use)]
    with pytest.raises(EdgeSSLError, match="stage 'make' has not finished"):
        run_stages(stages, Context(tmp_path / "fresh"), echo=lambda s: None, only=("use",))
    run_stages(stages, Context(tmp_path), echo=lambda s: None)
    out = run_stages(stages, Context(tmp_path), echo=lambda s: None, force=("use",), only=("use",))
    assert calls == ["use", "make", "use", "use"] and out["use"]["n2"] == 6
    rec = json.loads((tmp_path / "stages" / "use.json").read_text())
    assert rec["cpu_seconds"] >= 0 and rec["seconds"] >= 0

