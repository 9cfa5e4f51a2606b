"""The ONNX Runtime backend. The file is validated (size, protobuf parse, edge-ssl metadata) before a
session is built, so a bad file is an ``EdgeSSLError``, never a crash."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from edge_ssl.errors import EdgeSSLError
from edge_ssl.runtime.base import Runner
from edge_ssl.runtime.meta import ArtifactMeta


class OnnxRunner(Runner):
    backend = "onnx"

    def __init__(self, path: str | Path, threads: int | None = None):
        import onnxruntime as ort

        path = Path(path)
        data = _read_nonempty(path)
        opts = ort.SessionOptions()
        if threads:
            opts.intra_op_num_threads, opts.inter_op_num_threads = threads, 1
        opts.log_severity_level = 3
        try:
            self.session = ort.InferenceSession(data, sess_options=opts, providers=["CPUExecutionProvider"])
        except Exception as e:  # onnxruntime raises its own pybind exception types (InvalidProtobuf, Fail, ...)
            raise EdgeSSLError(f"{path}: not a loadable ONNX model ({type(e).__name__}: {str(e)[:300]})") from None
        values = dict(self.session.get_modelmeta().custom_metadata_map)
        super().__init__(path, ArtifactMeta.from_values(values, str(path)))
        self.input_name = self.session.get_inputs()[0].name

    def _run(self, wave: np.ndarray) -> np.ndarray:
        return self.session.run(None, {self.input_name: wave})[0]


def _read_nonempty(path: Path) -> bytes:
    if not path.is_file():
        raise EdgeSSLError(f"artifact not found: {path}")
    data = path.read_bytes()
    if not data:
        raise EdgeSSLError(f"{path}: empty file")
    return data
