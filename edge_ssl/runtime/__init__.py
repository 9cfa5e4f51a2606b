"""One Runner interface over eager (``.safetensors``), ONNX Runtime (``.onnx``) and ExecuTorch (``.pte``).

    runner = open_runner("model.pte", threads=2)
    logits = runner.run(wave)          # (S,) float32 at runner.sample_rate -> (T, V)
    runner.tokens, runner.blank_id, runner.frame_stride, runner.min_samples, runner.max_samples
    feature = open_runner("vit.onnx").run(image)   # image encoder: normalised (C, S, S) -> (D,)
"""
from __future__ import annotations

from pathlib import Path

from edge_ssl.errors import EdgeSSLError
from edge_ssl.runtime.base import Runner
from edge_ssl.runtime.meta import ArtifactMeta

SUFFIXES = (".safetensors", ".onnx", ".pte")


def open_runner(path: str | Path, threads: int | None = None, quant: str = "none") -> Runner:
    """The Runner for ``path``, chosen by its suffix. ``quant`` (torchao) applies to eager model files only."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise EdgeSSLError(f"{path}: unknown model/artifact suffix {suffix or '(none)'!r}; expected one of "
                           f"{', '.join(SUFFIXES)}")
    if not path.is_file():
        raise EdgeSSLError(f"model/artifact not found: {path}")
    if quant != "none" and suffix != ".safetensors":
        raise EdgeSSLError(f"{path}: --quant {quant} applies to eager .safetensors models; artifacts are "
                           "quantized when exported")
    if suffix == ".safetensors":
        from edge_ssl.runtime.eager import EagerRunner

        return EagerRunner(path, quant=quant, threads=threads)
    if suffix == ".onnx":
        from edge_ssl.runtime.onnx_runner import OnnxRunner

        return OnnxRunner(path, threads=threads)
    from edge_ssl.runtime.pte_runner import PteRunner

    return PteRunner(path, threads=threads)


__all__ = ["ArtifactMeta", "Runner", "open_runner", "SUFFIXES"]
