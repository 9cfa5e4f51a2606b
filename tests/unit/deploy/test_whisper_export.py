"""A CTC model with Whisper's front-end (a tiny random ``whisper()`` encoder, fine-tuned the way ``finetune
model.init_from=`` builds it) all the way to device artifacts: geometry, partitions, .pte / .onnx (fp32 and
int8) against eager, verify, and transcribe / evaluate / streaming on the .pte. The shipped whisper:tiny.en
encoder is exported in the slow test at the end.

Whisper's frames are centred (frame t on sample 320 t): T = ceil((S // 160) / 2) = (S - 160) // 320 + 1, so the
artifact metadata carries receptive_field 160 (where counting starts), frame_stride 320.
"""
import json

import numpy as np
import pytest
import torch

from edge_ssl.errors import EdgeSSLError
from edge_ssl.runtime import open_runner

# Before the export-friendly front-end: 3 partitions, 12 ops outside (the reflect pad's arange/abs/sub/index,
# the clamp's amax, the positions slice, scalar_tensor/_to_dim_order_copy). Now the only ops outside are two
# fixed-size slices on the graph's inputs (samples 1..200 for the reflection; the first T rows of the position
# table), which split nothing.
EXPECTED_FP32 = "1 XNNPACK partition(s); ops outside the delegate: aten.slice_copy.Tensor x2"
# A padded encoder (pad_to_frames > 0) is one static graph over its window: the pad in, the crop out.
EXPECTED_PADDED = ("1 XNNPACK partition(s); ops outside the delegate: aten.constant_pad_nd.default x1, "
                   "aten.slice_copy.Tensor x1")
LENGTHS = [800, 801, 1000, 12345, 16000, 16159, 16160, 16161, 47999, 48000]  # many not multiples of 320


def frames(n: int) -> int:
    return -(-(n // 160) // 2)  # ceil((S // 160) / 2): Whisper's mel frames, then the stride-2 conv


def whisper_ctc_file(folder, name="whisper_ctc", seed=0, **overrides):
    """A teacher file as ``edge-ssl import`` writes it, then a CTC model built from it by finetune's own
    ``build_model`` (init_from), saved as ``train`` saves it. The head is scaled so random greedy text varies."""
    from edge_ssl.asr.decode.tokenizer import CharTokenizer
    from edge_ssl.models.speech_encoder import SpeechEncoder, whisper
    from edge_ssl.models.store import save_model
    from edge_ssl.methods.ctc import FinetuneModelConfig
    from edge_ssl.recipes.finetune_ctc import build_model

    torch.manual_seed(seed)
    teacher, cfg = folder / f"{name}_teacher.safetensors", whisper(embed_dim=64, num_layers=2, num_heads=2, **overrides)
    save_model(SpeechEncoder(cfg), teacher, "speech_encoder", {"encoder": cfg}, family="whisper")
    tok = CharTokenizer()
    model, enc_cfg = build_model(FinetuneModelConfig(init_from=str(teacher)), tok.vocab_size)
    with torch.no_grad():
        model.head.weight.mul_(8.0)
    out = folder / f"{name}.safetensors"
    save_model(model.eval(), out, "ctc", {"encoder": enc_cfg}, vocab=list(tok.tokens))
    return out


@pytest.fixture(scope="module")
def whisper_ctc(tmp_path_factory):
    return whisper_ctc_file(tmp_path_factory.mktemp("whisper"))


@pytest.fixture(scope="module")
def pte(whisper_ctc, tmp_path_factory):
    from edge_ssl.deploy.pipeline import ExportConfig, export_model

    return export_model(whisper_ctc, tmp_path_factory.mktemp("pte") / "w.pte", ExportConfig(max_seconds=3.0))


def wave_of(n, seed=None):
    return (np.random.default_rng(n if seed is None else seed).standard_normal(n) * 0.1).astype(np.float32)


def max_rel(out, ref):
    return float(np.abs(out - ref).max()) / max(1.0, float(np.abs(ref).max()))


def cli(monkeypatch, capsys, *args):
    """``edge-ssl ARGS`` -> (exit code, stdout + stderr)."""
    import sys

    from edge_ssl.cli import main

    monkeypatch.setattr(sys, "argv", ["edge-ssl", *map(str, args)])
    with pytest.raises(SystemExit) as e:
        main()
    out = capsys.readouterr()
    return e.value.code or 0, out.out + out.err


def cosine(a, b):
    return float((a * b).sum() / np.linalg.norm(a) / np.linalg.norm(b))


def test_geometry_everywhere(whisper_ctc):
    """Model, eager runner and the metadata formula agree with Whisper's frame count at every length."""
    from edge_ssl.runtime.eager import load_speech_model

    model, _ = load_speech_model(whisper_ctc)
    enc, runner = model.encoder, open_runner(whisper_ctc)
    assert (enc.receptive_field, enc.downsample_rate, enc.min_samples, enc.max_samples) == (160, 320, 201, 480159)
    m = runner.meta
    assert (m.receptive_field, m.frame_stride, m.min_samples, m.max_samples) == (160, 320, 201, 480000)
    for n in [201, 319, 320, 479, 480, 481, 639, 640] + LENGTHS:
        want = frames(n)
        assert int(enc.frame_lengths(torch.tensor([n]))[0]) == enc.num_frames(n) == m.num_frames(n) == want, n
        assert runner.run(wave_of(n)).shape == (want, 29), n
    with pytest.raises(EdgeSSLError, match="outside the range the model accepts 201..480000"):
        runner.run(np.zeros(200, np.float32))


def test_fp32_pte_is_one_partition_and_equals_eager(pte, whisper_ctc):
    assert pte.partitions == EXPECTED_FP32 and pte.passed
    art, eager = open_runner(pte.artifact), open_runner(whisper_ctc)
    m = art.meta
    assert (m.receptive_field, m.frame_stride, m.min_samples, m.max_samples) == (160, 320, 800, 48000)
    worst = 0.0
    for n in LENGTHS:
        out, ref = art.run(wave_of(n)), eager.run(wave_of(n))
        assert out.shape == ref.shape == (frames(n), 29), n
        worst = max(worst, max_rel(out, ref))
    assert worst <= 1e-3, worst
    print(f"\nwhisper-front-end CTC .pte fp32 vs eager: max rel |d| {worst:.2e} over {len(LENGTHS)} lengths")


def test_golden_vectors_and_cli_verify(pte, run_cli):
    index = json.loads((pte.artifact.with_name(pte.artifact.name + ".golden") / "index.json").read_text())
    assert [it["shape"] for it in index["items"]] == [[frames(32000), 29]]
    code, err = run_cli("verify", pte.artifact)
    assert code in (0, None), err


def test_onnx_fp32_equals_eager(whisper_ctc, tmp_path, monkeypatch, capsys):
    out = tmp_path / "w.onnx"
    code, printed = cli(monkeypatch, capsys, "export", "onnx", whisper_ctc, "--out", out, "--max-seconds", "3")
    assert code == 0 and "PASS" in printed and "FAIL" not in printed, printed
    art, eager = open_runner(out), open_runner(whisper_ctc)
    worst = max(max_rel(art.run(wave_of(n)), eager.run(wave_of(n))) for n in LENGTHS)
    assert worst <= 1e-3, worst
    print(f"\nwhisper-front-end CTC .onnx fp32 vs eager: max rel |d| {worst:.2e}")


def test_onnx_dynamic_int8_keeps_the_reflection_and_mel_fp32(whisper_ctc, tmp_path, monkeypatch, capsys):
    import onnx

    out = tmp_path / "w8.onnx"
    code, printed = cli(monkeypatch, capsys, "quantize", whisper_ctc, "--backend", "onnx", "--scheme", "dynamic",
                        "--out", out, "--max-seconds", "3")
    assert code == 0, printed
    nodes = onnx.load(str(out)).graph.node
    producer = {o: n for n in nodes for o in n.output}
    reverse = next(n for n in nodes if "logmel.reverse" in " ".join(n.input))   # samples 200..1, the reflection
    assert reverse.op_type == "MatMul"                                          # fp32, not MatMulInteger
    clip = producer[next(n for n in nodes if n.op_type == "Log").input[0]]     # Log(Clip(MatMul(power, fbank)))
    assert producer[clip.input[0]].op_type == "MatMul"
    assert any(n.op_type == "MatMulInteger" for n in nodes)                     # the transformer is int8
    art, eager = open_runner(out), open_runner(whisper_ctc)
    assert art.meta.precision == "int8-dynamic"
    worst = min(cosine(art.run(wave_of(n)), eager.run(wave_of(n))) for n in (16000, 47999))
    assert worst > 0.99, worst
    print(f"\nwhisper-front-end CTC .onnx int8-dynamic vs eager: cosine >= {worst:.6f}")


@pytest.mark.slow
def test_static_int8_pte_is_one_partition(whisper_ctc, speech_manifest, tmp_path, monkeypatch, capsys):
    """``edge-ssl export executorch --quant static``: one partition; the raw wave, which Whisper's reflection
    concatenates (an op the XNNPACK quantizer annotates regardless of its filter), stays fp32."""
    from edge_ssl.deploy.pipeline import ExportConfig, build_wrapper
    from edge_ssl.deploy.quantize import quantize_pt2e

    out = tmp_path / "w8.pte"
    code, printed = cli(monkeypatch, capsys, "export", "executorch", whisper_ctc, "--out", out, "--quant", "static",
                        "--calibration", speech_manifest, "--max-seconds", "3")
    assert code == 0 and EXPECTED_FP32 in printed, printed
    art, eager = open_runner(out), open_runner(whisper_ctc)
    assert art.meta.precision == "int8-static"
    worst = min(cosine(art.run(wave_of(n)), eager.run(wave_of(n))) for n in (16000, 44555))
    assert worst > 0.95, worst
    print(f"\nwhisper-front-end CTC .pte int8-static vs eager: cosine >= {worst:.6f}")
    program = quantize_pt2e(build_wrapper(whisper_ctc, ExportConfig(max_seconds=3.0), "int8-static"), "static",
                            [torch.from_numpy(wave_of(16000))[None]])
    cat = next(n for n in program.graph.nodes if n.target == torch.ops.aten.cat.default)
    assert not any("quantize" in str(getattr(n, "target", "")) for n in [*cat.args[0], *cat.users])


def test_transcribe_evaluate_and_stream_on_the_pte(pte, whisper_ctc, speech_manifest, tmp_path, run_cli):
    from edge_ssl.asr.stream.segment import Segmenter, segment_wave
    from edge_ssl.data.tts import build_dialogue
    from edge_ssl.asr.stream.session import Final, StreamConfig, StreamingSession, open_recognizer, transcribe_wave
    from edge_ssl.asr.stream.vad import SileroVad
    from edge_ssl.audio.io import save_wav
    from edge_ssl.data.manifest import read_manifest

    utt = read_manifest(speech_manifest)[0]
    code, err = run_cli("transcribe", utt.audio_path, "-m", pte.artifact, "--vad", "energy", "--format", "jsonl",
                        "--out-dir", tmp_path / "t")
    assert code in (0, None), err
    rows = [json.loads(line) for line in next((tmp_path / "t").rglob("*.jsonl")).read_text().splitlines()]
    assert rows and all(r["text"] for r in rows)
    code, err = run_cli("evaluate", pte.artifact, speech_manifest, "--out", tmp_path / "e")
    assert code in (0, None), err
    summary = json.loads((tmp_path / "e" / "summary.json").read_text())
    assert summary["num_failed"] == 0 and summary["num_utterances"] == len(read_manifest(speech_manifest))

    wave, _ = build_dialogue(["good morning everyone", "see you later"], [0.4, 0.7, 0.6])
    save_wav(tmp_path / "d.wav", wave)
    rec = open_recognizer(pte.artifact)
    for mode in ("redecode", "chunked"):
        sess = StreamingSession(rec, Segmenter(SileroVad()), StreamConfig(mode=mode))
        events = sum((sess.accept(wave[i:i + 1000]) for i in range(0, len(wave), 1000)), []) + sess.finish()
        finals = [e for e in events if isinstance(e, Final)]
        offline = segment_wave(wave, SileroVad())
        assert [f.segment for f in finals] == offline and all(f.text for f in finals), mode
        if mode == "redecode":
            assert [f.text for f in finals] == [transcribe_wave(rec, wave[s.start:s.end]) for s in offline]


def test_positions_bound_the_length(tmp_path):
    """Sinusoidal positions end at max_positions frames: the eager runner stops there, export defaults to it and
    refuses more, naming the file and the longest --max-seconds."""
    from edge_ssl.deploy.pipeline import ExportConfig, build_wrapper

    short = whisper_ctc_file(tmp_path, "short", max_positions=50)                 # 50 frames = 16159 samples
    assert open_runner(short).max_samples == 50 * 320 + 159
    assert build_wrapper(short, ExportConfig(), "fp32").meta.max_samples == 16159
    with pytest.raises(EdgeSSLError, match=r"short.safetensors: .*at most 16159 .*sinusoidal positions cover 50 "
                                           r"frames; use --max-seconds 1 or less"):
        build_wrapper(short, ExportConfig(max_seconds=2.0), "fp32")
    with pytest.raises(EdgeSSLError, match="outside the range the model accepts"):
        open_runner(short).run(np.zeros(16160, np.float32))


def test_padded_encoder_exports_its_window(tmp_path):
    """pad_to_frames (the import's default: Whisper's own 30 s; here 1 s): one static graph over the window,
    the output cut to the clip's frames, equal to eager; the window bounds the exported length."""
    from edge_ssl.deploy.pipeline import ExportConfig, build_wrapper, export_model

    padded = whisper_ctc_file(tmp_path, "padded", pad_to_frames=50)
    assert build_wrapper(padded, ExportConfig(), "fp32").meta.max_samples == 16000       # the window, by default
    with pytest.raises(EdgeSSLError, match="padded to 1 s .*use --max-seconds 1 or less"):
        build_wrapper(padded, ExportConfig(max_seconds=1.5), "fp32")
    r = export_model(padded, tmp_path / "p.pte", ExportConfig())
    assert r.partitions == EXPECTED_PADDED and r.passed
    art, eager = open_runner(r.artifact), open_runner(padded)
    for n in (800, 5555, 16000):
        out, ref = art.run(wave_of(n)), eager.run(wave_of(n))
        assert out.shape == ref.shape == (frames(n), 29) and max_rel(out, ref) <= 1e-3, n
    assert eager.max_samples == 480000  # eager attends a longer clip alone, as Whisper implementations do


@pytest.mark.slow
@pytest.mark.parametrize("pad_to", [30.0, 0.0])
def test_shipped_whisper_tiny_en_exports_and_verifies(tmp_path, pad_to):
    """whisper:tiny.en as imported (Whisper's 30 s window; or the clip alone): fp32 .pte and .onnx verify
    against eager within the usual tolerance."""
    from edge_ssl.deploy.pipeline import ExportConfig, export_model
    from edge_ssl.models.convert import import_to_file

    try:
        import_to_file("whisper:tiny.en", tmp_path / "t.safetensors", pad_to=pad_to)
    except EdgeSSLError as e:
        pytest.skip(str(e))
    eager = open_runner(tmp_path / "t.safetensors")
    for suffix in (".pte", ".onnx"):
        r = export_model(tmp_path / "t.safetensors", tmp_path / f"t{suffix}", ExportConfig())
        assert r.passed, [rep.format() for rep in r.reports]
        if suffix == ".pte":
            assert r.partitions == (EXPECTED_PADDED if pad_to else EXPECTED_FP32), r.partitions
        art = open_runner(r.artifact)
        assert art.meta.max_samples == 480000
        n = 16000 * 7 + 123
        out, ref = art.run(wave_of(n)), eager.run(wave_of(n))
        assert out.shape == ref.shape == (frames(n), 384)
        print(f"\nwhisper:tiny.en pad_to {pad_to:g} s {suffix}: max |d| {np.abs(out - ref).max():.2e} "
              f"(|ref| max {np.abs(ref).max():.1f})")
        assert max_rel(out, ref) <= 1e-3
