"""The ExecuTorch backend (``executorch.runtime.Runtime``, XNNPACK delegate).

The file's header is checked before its bytes reach the runtime: a truncated or foreign file must be an
``EdgeSSLError``, not undefined behaviour in C++. The bytes stay referenced by the runner for the
program's lifetime (shared/STACK.md pitfall 5).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from edge_ssl.errors import EdgeSSLError
from edge_ssl.logs import native_stderr
from edge_ssl.runtime.base import Runner
from edge_ssl.runtime.meta import LIST_KEYS, ArtifactMeta
from edge_ssl.runtime.onnx_runner import _read_nonempty

_FILE_ID = b"ET"          # flatbuffer file identifier "ET12" (version digits may change) at bytes 4..8
_EXT_MAGIC = b"eh00"      # extended header at byte 8: length, program size, segment offset, segment size


def check_pte_bytes(data: bytes, path: Path) -> None:
    """Raise EdgeSSLError unless ``data`` has an ExecuTorch header whose declared sizes fit the file."""
    if len(data) < 40 or data[4:6] != _FILE_ID:
        raise EdgeSSLError(f"{path}: not an ExecuTorch .pte file (no 'ET' program identifier)")
    if data[8:12] == _EXT_MAGIC:
        header_len = int.from_bytes(data[12:16], "little")
        program_size = int.from_bytes(data[16:24], "little")
        segment_base = int.from_bytes(data[24:32], "little")
        segment_size = int.from_bytes(data[32:40], "little") if header_len > 24 else 0
        end = max(program_size, segment_base + segment_size if segment_size else 0)
        if end > len(data):
            raise EdgeSSLError(f"{path}: truncated .pte: the header declares {end} bytes, the file has {len(data)}")


class PteRunner(Runner):
    backend = "executorch"

    def __init__(self, path: str | Path, threads: int | None = None):
        from executorch.runtime import Runtime

        path = Path(path)
        self._data = _read_nonempty(path)  # must outlive the program
        check_pte_bytes(self._data, path)
        if threads:
            from executorch.extension.pybindings.portable_lib import _unsafe_reset_threadpool

            with native_stderr():
                _unsafe_reset_threadpool(threads)
        try:
            self.program = Runtime.get().load_program(self._data)
            names = set(self.program.method_names)
            values = {n: self._constant(n) for n in names if n != "forward"}
        except RuntimeError as e:
            raise EdgeSSLError(f"{path}: ExecuTorch cannot load this program ({e})") from None
        if "forward" not in names:
            raise EdgeSSLError(f"{path}: the program has no 'forward' method (methods: {sorted(names)})")
        super().__init__(path, ArtifactMeta.from_values(values, str(path)))
        try:
            with native_stderr():  # the XNNPACK threadpool's first use logs its cpuinfo probe from C++
                self.method = self.program.load_method("forward")
                if not self.meta.is_image:
                    self._size_for_longest_input()
        except RuntimeError as e:
            raise EdgeSSLError(f"{path}: ExecuTorch cannot load 'forward' ({e})") from None

    def _size_for_longest_input(self) -> None:
        """Run the method once on silence of the longest accepted length before any real input.

        Workaround for an XNNPACK bug (the XNNPACK in executorch 1.5.1): on some artifacts (the bundled
        edge_en model; random-weight exports of the same graph never take that path), one op's reshape
        allocates a private fp32 buffer sized for a short first input (4,608 bytes = 384 x 3 frames for
        1024 samples) and a later, longer run reads past it. Valgrind: invalid reads just after that block,
        allocated in ``xnn_reshape_runtime``, none on a fresh long run. The over-read is heap garbage, so
        the logits depended on what ran before (up to ~6 apart) and changed between identical calls.
        Sized first for ``max_samples``, the buffer holds every later input: outputs then equal a fresh
        program's, bit for bit. Costs one longest-input run at load (~0.45 s for 30 s, one thread).
        Remove once XNNPACK regrows that buffer (same class as google/XNNPACK#10791, deconvolution).
        """
        import torch

        self.method.execute([torch.zeros(1, self.meta.max_samples)])

    def _constant(self, name: str):
        out = self.program.load_method(name).execute([])
        return list(out) if name in LIST_KEYS else out[0]

    def _run(self, wave: np.ndarray) -> np.ndarray:
        import torch

        try:
            out = self.method.execute([torch.from_numpy(wave)])
        except RuntimeError as e:
            raise EdgeSSLError(f"{self.path}: ExecuTorch failed on an input of shape {wave.shape} ({e})") from None
        return out[0].numpy()
