"""Models shipped inside the package, so ``edge-ssl listen`` and ``edge-ssl transcribe`` work with no
``--model``. ``edge_en/``: the English CTC model of ``edge_ssl/recipes/configs/ctc/edge_en_v2.yaml`` (Whisper tiny.en's
encoder fine-tuned on real and synthetic voices by ``recipes/bundled/run.sh``) as an int8 ``.pte``
(ExecuTorch/XNNPACK, the default) and an int8 ``.onnx``; its card is ``edge_en/MODEL_CARD.md``."""
from __future__ import annotations

from pathlib import Path

from edge_ssl.errors import EdgeSSLError

BUNDLED = Path(__file__).resolve().parent / "edge_en"
ARTIFACTS = {"pte": BUNDLED / "model_int8.pte", "onnx": BUNDLED / "model_int8.onnx"}


def bundled_model(fmt: str = "pte") -> Path:
    """The bundled English model as ``fmt`` ("pte" or "onnx")."""
    if fmt not in ARTIFACTS:
        raise EdgeSSLError(f"no bundled {fmt!r} model; choose from {', '.join(ARTIFACTS)}")
    path = ARTIFACTS[fmt]
    if not path.is_file():
        raise EdgeSSLError(f"the bundled model {path} is missing from this installation; pass --model PATH, "
                           "or rebuild it with recipes/bundled/run.sh")
    return path


def model_or_bundled(model: str | Path | None) -> Path:
    """The model a command was given, or the bundled .pte when it was given none (transcribe, listen)."""
    return Path(model) if model else bundled_model()
