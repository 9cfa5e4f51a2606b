"""The export pipeline: load -> wrap -> torch.export -> (quantize) -> lower/save -> golden vectors -> verify.

    result = export_model("student.safetensors", "out/student_int8.pte", ExportConfig(quant="static",
                          calibration="data/synth/dev.jsonl"))

The artifact, ``tokens.txt`` beside it and ``<artifact>.golden/`` are written and verified in a staging
folder, then published together (``deploy/publish.py``): a kill at any point leaves the old set or the new
one, never an artifact beside another export's golden vectors. Export is only reported as done once
``verify`` has passed on the golden inputs; a failed verification publishes nothing. The model file's ``kind`` picks the
graph: ``ctc``/``speech_encoder`` (speech; the length range applies) or ``vit``/``mae`` (image encoder).
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from edge_ssl.deploy.audio import file_items, manifest_items, test_signal
from edge_ssl.deploy.golden import GoldenItem, write_golden
from edge_ssl.deploy.publish import TOKENS, staged_publish
from edge_ssl.deploy.verify import VerifyReport, verify_artifact
from edge_ssl.deploy.wrappers import ExportWrapper, export_checked, wrap
from edge_ssl.errors import EdgeSSLError

log = logging.getLogger(__name__)

FORMATS = ("pte", "onnx")


@dataclass
class ExportConfig:
    quant: str = "none"                   # pte: none|static|dynamic (PT2E/XNNPACK); onnx: none|dynamic (ORT MatMul int8)
    keep_frontend_fp32: bool = True       # leave the conv front-end on raw audio unquantized (accuracy)
    min_seconds: float = 0.05             # shortest accepted input (>= 0.045 s: two frames)
    max_seconds: float | None = None      # longest accepted input (.pte memory is planned for it); None: the
    #                                       model's longest (Whisper: its positions/window), at most 30 s
    calibration: str | None = None        # manifest of real audio for static calibration (and golden inputs)
    num_calibration: int = 32             # utterances used to calibrate
    golden_audio: list[str] = field(default_factory=list)  # files for golden vectors (else manifest/test signal)
    num_golden: int = 2                   # golden utterances taken from the manifest
    verify: bool = True                   # run verify before reporting success
    threads: int | None = None            # runtime threads for verification


@dataclass
class ExportResult:
    artifact: Path
    precision: str
    size_bytes: int
    seconds: float
    partitions: str | None                # .pte only: XNNPACK partition summary
    reports: list[VerifyReport]

    @property
    def passed(self) -> bool:
        return all(r.passed for r in self.reports)


def precision_name(fmt: str, quant: str) -> str:
    if quant == "none":
        return "fp32"
    if fmt == "onnx" and quant != "dynamic":
        raise EdgeSSLError(f"ONNX supports quant 'none' or 'dynamic' (ORT MatMul int8), not {quant!r}")
    if fmt == "pte" and quant not in ("static", "dynamic"):
        raise EdgeSSLError(f".pte supports quant none|static|dynamic, not {quant!r}")
    return f"int8-{quant}"


def build_wrapper(model_path: str | Path, cfg: ExportConfig, precision: str, fmt: str = "pte") -> ExportWrapper:
    from edge_ssl.runtime.eager import load_model_and_meta

    model, meta = load_model_and_meta(model_path, min_samples=round(cfg.min_seconds * 16000),
                                      max_samples=None if cfg.max_seconds is None else round(cfg.max_seconds * 16000),
                                      precision=precision, for_export=True)
    return wrap(model, meta, "xnnpack" if fmt == "pte" else "onnx")


def image_golden_inputs(meta, n: int = 2) -> list[tuple[str, np.ndarray]]:
    """Seeded random normalised images (C, S, S): an image encoder's golden inputs."""
    g = np.random.default_rng(0)
    return [(f"random_image_{i}", g.standard_normal(meta.image_shape).astype(np.float32)) for i in range(n)]


def golden_inputs(cfg: ExportConfig, min_samples: int, max_samples: int) -> list[tuple[str, np.ndarray]]:
    if cfg.golden_audio:
        return [(n, w) for n, w, _ in file_items(cfg.golden_audio, max_samples)]
    if cfg.calibration:
        return [(n, w) for n, w, _ in manifest_items(cfg.calibration, cfg.num_golden, min_samples, max_samples)]
    return [("test_signal", test_signal(max(min_samples, min(32000, max_samples))))]


def export_model(model_path: str | Path, out: str | Path, cfg: ExportConfig = ExportConfig()) -> ExportResult:
    out = Path(out)
    fmt = out.suffix.lstrip(".").lower()
    if fmt not in FORMATS:
        raise EdgeSSLError(f"{out}: the output must end in .pte or .onnx")
    if not 0 < cfg.min_seconds < (cfg.max_seconds or float("inf")):
        raise EdgeSSLError(f"bad length range {cfg.min_seconds}..{cfg.max_seconds} s")
    precision = precision_name(fmt, cfg.quant)
    t0 = time.perf_counter()
    wrapper = build_wrapper(model_path, cfg, precision, fmt)
    meta = wrapper.meta
    log.info("exporting %s %s -> %s (%s, %s)", meta.task, model_path, out, precision,
             f"images {meta.image_shape}" if meta.is_image else f"{meta.min_samples}..{meta.max_samples} samples")
    with staged_publish(out) as staged:  # published on success only, with its sidecars
        partitions = _write_artifact(wrapper, staged, fmt, model_path, cfg)
        if meta.tokens:
            from edge_ssl.asr.decode.tokenizer import CharTokenizer

            CharTokenizer(meta.tokens).save(staged.with_name(TOKENS))
        write_golden_vectors(staged, model_path, cfg, cfg.threads)
        reports = verify_artifact(staged, model=model_path, threads=cfg.threads) if cfg.verify else []
        for r in reports:
            r.artifact = str(out)
        if cfg.verify and not all(r.passed for r in reports):
            raise EdgeSSLError(f"{out}: verification failed (nothing written):\n"
                               + "\n".join(r.format() for r in reports))
    return ExportResult(out, precision, out.stat().st_size, time.perf_counter() - t0, partitions, reports)


def _write_artifact(wrapper: ExportWrapper, path: Path, fmt: str, model_path: str | Path,
                    cfg: ExportConfig) -> str | None:
    """torch.export -> (quantize) -> .pte bytes or .onnx at ``path``; returns the .pte partition summary."""
    meta = wrapper.meta
    if fmt == "pte":
        from edge_ssl.deploy.pte import lower_to_pte

        if cfg.quant == "none":
            program = export_checked(wrapper)
        else:
            from edge_ssl.deploy.quantize import quantize_pt2e

            calib = []
            if meta.is_image:  # static calibrates on audio; dynamic fails to lower (XNNPACK per-channel
                # scale assertion on the ViT's linears, executorch 1.5.1)
                raise EdgeSSLError(f"{model_path}: int8 .pte is not supported for an image encoder; export fp32 .pte "
                                   "or use `edge-ssl export onnx --quant dynamic`")
            if cfg.quant == "static":
                if not cfg.calibration:
                    raise EdgeSSLError("static int8 needs --calibration MANIFEST (real audio, a few dozen utterances)")
                calib = [torch.from_numpy(w)[None] for _, w, _ in
                         manifest_items(cfg.calibration, cfg.num_calibration, meta.min_samples, meta.max_samples)]
            program = quantize_pt2e(wrapper, cfg.quant, calib, cfg.keep_frontend_fp32)
        lowered = lower_to_pte(program, meta)
        path.write_bytes(lowered.buffer)
        return lowered.summary()
    from edge_ssl.deploy.onnx_export import export_onnx

    if cfg.quant == "none":
        export_onnx(wrapper, path)
    else:
        import tempfile

        from edge_ssl.deploy.quantize import quantize_onnx

        with tempfile.TemporaryDirectory() as d:
            fp32 = Path(d) / "fp32.onnx"
            export_onnx(wrapper, fp32)
            quantize_onnx(fp32, path, meta.to_strings())
    return None


def write_golden_vectors(artifact: Path, model_path: str | Path, cfg: ExportConfig, threads: int | None) -> Path:
    """Golden inputs run through the artifact in its own runtime; the output is what a device must match."""
    from edge_ssl.deploy.verify import output_text
    from edge_ssl.runtime import open_runner

    runner = open_runner(artifact, threads=threads)
    items = []
    inputs = (image_golden_inputs(runner.meta) if runner.meta.is_image
              else golden_inputs(cfg, runner.min_samples, runner.max_samples))
    for name, wave in inputs:
        out = runner.run(wave)
        items.append(GoldenItem(name, wave, out, output_text(out, runner)))
    return write_golden(artifact, items, runner.meta.precision, model_path)


def quantize_report(model_path: str | Path, out: str | Path | None, backend: str, scheme: str, cfg: ExportConfig,
                    eval_manifest: str | None, num_eval: int = 50):
    """Quantize for ``backend`` ("executorch" | "onnx" | "eager") and measure accuracy before and after.

    executorch/onnx write a verified artifact (as ``export_model``); eager applies torchao at load time
    (``open_runner(model, quant=...)``), so nothing is written. Returns (ExportResult | None, [Accuracy]).
    """
    from edge_ssl.deploy.accuracy import measure
    from edge_ssl.runtime import open_runner

    if backend == "eager":
        quantized = open_runner(model_path, threads=cfg.threads, quant=scheme)
        result = None
    else:
        if out is None:
            raise EdgeSSLError("--out is required for an executorch/onnx quantized artifact")
        suffix = {"executorch": ".pte", "onnx": ".onnx"}[backend]
        if Path(out).suffix != suffix:
            raise EdgeSSLError(f"{out}: a {backend} artifact must end in {suffix}")
        result = export_model(model_path, out, ExportConfig(**{**cfg.__dict__, "quant": scheme}))
        quantized = open_runner(out, threads=cfg.threads)
    reference = open_runner(model_path, threads=cfg.threads)
    source = eval_manifest or cfg.calibration
    if source:
        items = manifest_items(source, num_eval, quantized.min_samples, quantized.max_samples)
    else:
        items = [(n, w, None) for n, w in golden_inputs(cfg, quantized.min_samples, quantized.max_samples)]
    label = f"{quantized.meta.precision} {backend}"
    return result, measure({"fp32 eager": reference, label: quantized}, items)
