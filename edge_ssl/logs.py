"""What the CLI prints: its own log lines, progress bars and errors; third-party chatter only with ``-v``.

The libraries under the toolkit talk a lot on stderr (torchao probing ``.so`` files built for other Python or
CUDA versions, torch's ``_pytree`` deprecations, the ONNX exporter's pass-by-pass INFO, ExecuTorch's
``cpuinfo_utils`` lines from C++). Each is silenced where it comes from, so an unknown third-party warning
still shows; ``verbose`` turns all of them back on.
"""
from __future__ import annotations

import contextlib
import logging
import os
import sys
import tempfile
import warnings
from importlib.util import find_spec
from pathlib import Path
from typing import Iterator

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
NATIVE = logging.getLogger("edge_ssl.native")  # C++ stderr of the runtimes, re-emitted (DEBUG: shown with -v)

# (message regex, category) of Python warnings third-party code raises on every run and the user cannot act on
_WARNINGS = [
    (r"`isinstance\(treespec, LeafSpec\)` is deprecated", FutureWarning),  # torch.onnx export, via copyreg
]

_verbose = False


def setup_logging(verbose: bool = False) -> None:
    """The toolkit's INFO lines always; third-party INFO/warnings from the known noisy sources only if ``verbose``."""
    global _verbose
    _verbose = verbose
    logging.basicConfig(format=FORMAT, datefmt="%H:%M:%S")  # no-op when a handler exists (pytest, an app)
    logging.getLogger().setLevel(logging.INFO if verbose else logging.WARNING)
    logging.getLogger("edge_ssl").setLevel(logging.DEBUG if verbose else logging.INFO)
    # torchao: .so probes and a "no triton" notice at import
    logging.getLogger("torchao").setLevel(logging.NOTSET if verbose else logging.ERROR)
    if verbose:
        return
    for message, category in _WARNINGS:
        warnings.filterwarnings("ignore", message=message, category=category)
    # torch's loggers have their own handler, levels set from TORCH_LOGS when torch is imported (later: the
    # commands import it lazily); "-x" means ERROR. Also set directly in case torch is already imported.
    os.environ.setdefault("TORCH_LOGS", "-torch,-onnx")
    if "torch" in sys.modules:
        for name in ("torch", "torch.onnx"):
            logging.getLogger(name).setLevel(logging.ERROR)
    if not _torch_has_cuda():  # torchao's bundled .so files are CUDA kernels: probing them only fails
        os.environ.setdefault("TORCHAO_FORCE_SKIP_LOADING_SO_FILES", "1")


def _torch_has_cuda() -> bool:
    spec = find_spec("torch")
    if spec is None or spec.origin is None:
        return False
    return any((Path(spec.origin).parent / "lib").glob("libtorch_cuda*"))


@contextlib.contextmanager
def native_stderr() -> Iterator[None]:
    """Capture what C/C++ code writes to file descriptor 2 inside the block (ExecuTorch's cpuinfo probe) and
    re-emit it as DEBUG lines of ``edge_ssl.native``: shown with ``-v``; replayed on stderr if the block raises,
    so a native error message is never lost."""
    try:
        saved = -1 if _verbose else os.dup(2)
    except OSError:  # no fd 2 (a daemon): nothing to capture
        saved = -1
    if saved < 0:
        yield
        return
    sys.stderr.flush()
    with tempfile.TemporaryFile() as buf:
        os.dup2(buf.fileno(), 2)
        failed = True
        try:
            yield
            failed = False
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            buf.seek(0)
            text = buf.read().decode(errors="replace")
            if failed:
                sys.stderr.write(text)
            else:
                for line in text.splitlines():
                    NATIVE.debug("%s", line)
