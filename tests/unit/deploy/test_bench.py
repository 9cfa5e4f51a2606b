"""The bench's mechanics (never its speed): interleaving, per-round ratios, refusal of too-noisy numbers."""
import json

import numpy as np
import pytest

from edge_ssl.deploy.bench import PEAK, BenchConfig, format_table, goals, summarize_rounds
from edge_ssl.deploy.bench_pool import Interleaved
from edge_ssl.deploy.bench_stats import ratio, summarize


def test_ratio_is_the_median_of_per_round_ratios_not_the_ratio_of_medians():
    num, den = [10, 20, 30], [10, 40, 15]  # per-round ratios 1, 0.5, 2; medians 20 / 15 = 1.33
    r = ratio(num, den)
    assert r.median == pytest.approx(1.0) and r.n == 3
    assert (r.q1, r.q3) == (pytest.approx(0.75), pytest.approx(1.5))


def test_spread_beyond_the_threshold_is_too_noisy():
    steady = summarize([100, 101, 99, 100], max_spread=0.2)
    assert not steady.too_noisy and steady.spread == pytest.approx(0.5 / 100)
    swinging = summarize([100, 300, 100, 300], max_spread=0.2)  # IQR 200 around a median of 200
    assert swinging.too_noisy and swinging.spread == pytest.approx(1.0)
    assert not summarize([100, 300, 100, 300], max_spread=1.0).too_noisy  # the threshold is strict >


def test_load_drift_shared_by_a_round_cancels_in_its_ratio():
    """Both rows slow down together (load changing between rounds): each row alone is too noisy, their
    per-round ratio is exactly 2 and reported."""
    eager = np.array([100, 200, 400, 100, 200, 400.0])
    g = goals({"eager-fp32": eager, "pte-fp32": eager / 2}, 1.0, {}, None, max_spread=0.2)
    assert summarize(eager).too_noisy
    assert g["pte_fp32_speed_vs_eager_fp32"].median == pytest.approx(2.0)
    assert not g["pte_fp32_speed_vs_eager_fp32"].too_noisy


def test_goal_ratios():
    rounds = 5
    ms = {PEAK: [100.0] * rounds, "hf-eager-fp32": [200.0] * rounds, "eager-fp32": [160.0] * rounds,
          "pte-fp32": [120.0] * rounds, "pte-int8-static": [80.0] * rounds, "onnx-int8-dynamic": [100.0] * rounds}
    g = goals(ms, probe_scale=0.5, sizes_mb={"pte-int8-static": 25.0}, teacher_mb=376.0)
    assert g["pte_fp32_speed_vs_eager_fp32"].median == pytest.approx(160 / 120)
    assert g["pte_int8_speedup_vs_hf_fp32"].median == pytest.approx(2.5)
    assert g["pte_int8_speed_vs_onnx_int8"].median == pytest.approx(1.25)
    assert g["pte_int8_fraction_of_matmul_peak"].median == pytest.approx(0.5 * 100 / 80)  # FLOPs/s over peak
    assert g["pte_int8_size_vs_teacher_fp32"] == pytest.approx(25 / 376)
    assert "pte_int8_all_speedup_vs_hf_fp32" not in g  # its row was not run


def _table(samples: dict, max_spread: float) -> str:
    rows = [n for n in samples if n != PEAK]
    mem = {n: {"rss_base_mb": 100.0, "peak_rss_mb": 150.0} for n in rows}
    rounds = Interleaved(samples, [], mem, {"before": [1.0, 1.0, 1.0], "after": [2.0, 1.0, 1.0]})
    _, timing = summarize_rounds(rounds, {n: 1.0 for n in rows}, 1e9, None, BenchConfig(max_spread=max_spread), 10.0)
    return format_table({"model": "m.safetensors", "input": "10 s audio", **timing}), timing


def test_table_refuses_a_noisy_row_and_ratio_but_prints_steady_ones():
    samples = {PEAK: [50.0, 51, 50, 49], "eager-fp32": [100.0, 101, 99, 100], "pte-fp32": [20.0, 90, 20, 90]}
    table, timing = _table(samples, max_spread=0.2)
    eager, pte = (next(ln for ln in table.splitlines() if ln.startswith(f"| {n} |")) for n in ("eager-fp32", "pte-fp32"))
    assert "| 100 |" in eager and "too noisy" not in eager
    assert "too noisy" in pte
    assert "pte_fp32_speed_vs_eager_fp32: too noisy" in table and timing["goals"]["pte_fp32_speed_vs_eager_fp32"] is None
    assert "load average (1 min) 1.00 before, 2.00 after" in table
    steady, timing = _table({**samples, "pte-fp32": [50.0, 50, 50, 50]}, max_spread=0.2)
    assert "pte_fp32_speed_vs_eager_fp32: 2.000 (IQR" in steady
    assert timing["goals"]["pte_fp32_speed_vs_eager_fp32"] == pytest.approx(2.0)


def test_flop_count_matches_the_analytic_transformer_cost(tmp_path):
    """FlopCounterMode on the tiny model vs a hand count of its Linear layers + convs."""
    from edge_ssl.deploy.bench import model_flops
    from edge_ssl.deploy.samples import random_ctc_model
    from edge_ssl.models.speech_encoder import tiny

    path = random_ctc_model(tmp_path / "t.safetensors", "tiny")
    n = 16000
    c = tiny()
    t_in, conv = n, 0
    c_in = 1
    for ch, k, s in c.conv_layers:
        t_in = (t_in - k) // s + 1
        conv += 2 * t_in * ch * c_in * k
        c_in = ch
    T, C, F = t_in, c.embed_dim, c.ffn_dim
    linear = 2 * T * (c_in * C + c.num_layers * (4 * C * C + 2 * C * F) + C * 29)
    attn = c.num_layers * 2 * 2 * T * T * C
    pos = 2 * T * C * (C // c.pos_conv_groups) * c.pos_conv_kernel
    assert model_flops(str(path), n) == pytest.approx(conv + linear + attn + pos, rel=1e-6)


def _assert_round_robin(timeline: list[dict], order: list[str], rounds: int) -> None:
    """Each round timed every participant once, in ``order``, and no two calls (separate processes,
    CLOCK_MONOTONIC stamps) overlapped."""
    assert [(t["round"], t["name"]) for t in timeline] == [(r, n) for r in range(rounds) for n in order]
    for before, after in zip(timeline, timeline[1:]):
        assert after["start_s"] >= before["start_s"] + before["ms"] / 1000 - 1e-6


def test_workers_are_timed_round_robin(tmp_path, tiny_ctc, speech_manifest):
    """Two real long-lived workers (the matmul probe and the eager runner), no export needed."""
    from edge_ssl.deploy.bench import bench_audio
    from edge_ssl.deploy.bench_pool import run_interleaved

    audio = bench_audio(str(speech_manifest), 0.5, tmp_path / "a.wav")
    specs = {PEAK: ["peak", "--threads", "1"], "eager-fp32": ["runner", str(tiny_ctc), "--audio", str(audio), "--threads", "1"]}
    r = run_interleaved(specs, rounds=3, warmup=1, log_dir=tmp_path)
    _assert_round_robin(r.timeline, [PEAK, "eager-fp32"], 3)
    assert {k: len(v) for k, v in r.samples_ms.items()} == {PEAK: 3, "eager-fp32": 3}
    assert r.memory["eager-fp32"]["peak_rss_mb"] >= r.memory["eager-fp32"]["rss_base_mb"] > 0


def test_a_worker_that_fails_to_load_names_itself_and_its_log(tmp_path):
    from edge_ssl.deploy.bench_pool import run_interleaved
    from edge_ssl.errors import EdgeSSLError

    with pytest.raises(EdgeSSLError, match=r"worker pte-fp32 exited .*worker_pte-fp32\.log"):
        run_interleaved({"pte-fp32": ["runner", str(tmp_path / "missing.pte"), "--threads", "1"]}, 2, 0, tmp_path)


@pytest.mark.slow
def test_bench_interleaves_real_backends_round_robin(tmp_path, tiny_ctc, speech_manifest, run_cli):
    """``edge-ssl bench`` on the tiny model, real workers (eager, ExecuTorch, ONNX Runtime, the matmul probe):
    the calls ran one at a time in A B C ... order every round, and ratios and refusals follow the samples."""
    rows = ["eager-fp32", "pte-fp32", "onnx-fp32"]
    code, err = run_cli("bench", tiny_ctc, "--out", tmp_path, "--no-hf", "--reps", 3, "--seconds", 1, "--threads", 1,
                        "--calibration", speech_manifest, *[a for r in rows for a in ("--only", r)])
    assert code == 0, err
    s = json.loads((tmp_path / "bench.json").read_text())
    order = [PEAK, *rows]
    assert s["order"] == order and s["reps"] == 3
    _assert_round_robin(s["timeline"], order, 3)
    by_row = {r["name"]: r for r in s["rows"]}
    for name in rows:
        assert by_row[name]["samples_ms"] == [t["ms"] for t in s["timeline"] if t["name"] == name]
        assert by_row[name]["too_noisy"] == (by_row[name]["spread"] > s["max_spread"])
    per_round = np.array(by_row["eager-fp32"]["samples_ms"]) / np.array(by_row["pte-fp32"]["samples_ms"])
    st = s["goal_ratios"]["pte_fp32_speed_vs_eager_fp32"]
    assert st["median"] == pytest.approx(float(np.median(per_round)))
    assert st["too_noisy"] == (st["spread"] > s["max_spread"])
    assert s["goals"]["pte_fp32_speed_vs_eager_fp32"] == (None if st["too_noisy"] else pytest.approx(st["median"]))
    assert s["matmul_peak_gflops"] > 0 and len(s["load_avg"]["before"]) == 3
    table = (tmp_path / "bench.md").read_text()
    assert all(f"| {n} |" in table for n in rows) and (tmp_path / "bench.png").stat().st_size > 1000
