import json

import pytest

from edge_ssl.deploy.bench import Row, goals


def test_goal_ratios():
    rows = [Row("hf-eager-fp32", 95, 300, 200, 210, 0.02, 40, 0.25), Row("eager-fp32", 95, 300, 160, 170, 0.016, 50, 0.3),
            Row("pte-fp32", 95, 200, 120, 125, 0.012, 66, 0.4), Row("pte-int8-static", 25, 100, 80, 90, 0.008, 100, 0.6),
            Row("onnx-int8-dynamic", 30, 100, 100, 110, 0.01, 80, 0.5)]
    g = goals(rows, teacher_mb=376.0)
    assert g["pte_fp32_speed_vs_eager_fp32"] == pytest.approx(160 / 120)
    assert g["pte_int8_speedup_vs_hf_fp32"] == pytest.approx(2.5)
    assert g["pte_int8_speed_vs_onnx_int8"] == pytest.approx(1.25)
    assert g["pte_int8_size_vs_teacher_fp32"] == pytest.approx(25 / 376)


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


@pytest.mark.slow
def test_bench_runs_each_backend_in_its_own_process(tmp_path):
    from edge_ssl.deploy.bench import BenchConfig, run_bench

    table = run_bench("tiny", tmp_path, BenchConfig(seconds=2.0, reps=2, warmup=1,
                                                     only=["hf-eager-fp32", "eager-fp32", "pte-fp32", "onnx-fp32"]))
    data = json.loads((tmp_path / "bench.json").read_text())
    assert [r["name"] for r in data["rows"]] == ["hf-eager-fp32", "eager-fp32", "pte-fp32", "onnx-fp32"]
    assert data["matmul_peak_gflops"] > 1 and (tmp_path / "bench.png").stat().st_size > 1000
    assert "| pte-fp32 |" in table
