import json

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
