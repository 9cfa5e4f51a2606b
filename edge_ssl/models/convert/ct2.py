"""Read a CTranslate2 ``model.bin`` with numpy: the named tensors and the spec name, no ctranslate2 needed.

The file (binary version 6, little-endian; older versions differ only in what they carry) is::

    u32 version | str spec name | u32 spec revision | u32 n
    n x ( str name | u8 rank | u32 dims[rank] | u8 dtype | u32 nbytes | nbytes of data )
    u32 m | m x ( str alias | str target )          # a name that reuses another's tensor

where ``str`` is a u16 byte count (the terminating NUL included) followed by UTF-8 bytes and a NUL. Scalars
(rank 0) are config values written as variables (``encoder/num_heads``...). Tensors are memory-mapped, so
reading a 140 MB model costs only the bytes that are used.
"""
from __future__ import annotations

import json
import struct
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from edge_ssl.errors import EdgeSSLError

# CTranslate2's DataType enum -> numpy. bfloat16 has no numpy dtype: its raw uint16 bits are returned.
DTYPES = {0: np.float32, 1: np.int8, 2: np.int16, 3: np.int32, 4: np.float16, 5: np.uint16}
BFLOAT16 = 5
SUPPORTED_VERSIONS = (5, 6)  # 5 added aliases' current layout; 6 is what CTranslate2 3.x / 4.x write


@dataclass
class CT2Model:
    path: Path
    spec: str                                   # e.g. "WhisperSpec"
    revision: int
    variables: dict[str, np.ndarray]            # name -> array (read-only memory map for tensors)
    bfloat16: set[str] = field(default_factory=set)  # names whose array holds bfloat16 bits as uint16
    config: dict = field(default_factory=dict)  # config.json beside model.bin ({} when absent)

    def get(self, name: str) -> np.ndarray:
        if name not in self.variables:
            raise EdgeSSLError(f"{self.path}: no variable {name!r} in this {self.spec} model")
        return self.variables[name]

    def scalar(self, name: str) -> int | float:
        return self.get(name).reshape(()).item()

    def float32(self, name: str) -> np.ndarray:
        """A tensor as float32 (fp16/bf16/fp32 files); int8-quantized weights are refused by name."""
        a = self.get(name)
        if name in self.bfloat16:
            return (a.astype(np.uint32) << 16).view(np.float32)
        if a.dtype == np.int8:
            raise EdgeSSLError(f"{self.path}: {name} is int8-quantized; convert the model with "
                               f"--quantization float16 or float32 to import it")
        return a.astype(np.float32)


class _Reader:
    def __init__(self, path: Path, data: np.ndarray):
        self.path, self.data, self.pos = path, data, 0

    def take(self, n: int) -> np.ndarray:
        if self.pos + n > len(self.data):
            raise EdgeSSLError(f"{self.path}: truncated CTranslate2 file (wanted {n} bytes at offset {self.pos}, "
                               f"file has {len(self.data)})")
        out = self.data[self.pos:self.pos + n]
        self.pos += n
        return out

    def unpack(self, fmt: str):
        size = struct.calcsize(fmt)
        return struct.unpack(fmt, self.take(size).tobytes())

    def string(self) -> str:
        (n,) = self.unpack("<H")
        raw = self.take(n).tobytes()
        if not raw or raw[-1] != 0:
            raise EdgeSSLError(f"{self.path}: malformed string at offset {self.pos - n} (no terminating NUL)")
        try:
            return raw[:-1].decode("utf-8")
        except UnicodeDecodeError:
            raise EdgeSSLError(f"{self.path}: malformed string at offset {self.pos - n} (not UTF-8)") from None


def read_ct2(folder_or_file: str | Path) -> CT2Model:
    """``model.bin`` (or the folder holding it, with its ``config.json``) -> ``CT2Model``."""
    path = Path(folder_or_file)
    if path.is_dir():
        path = path / "model.bin"
    if not path.is_file():
        raise EdgeSSLError(f"{path}: no CTranslate2 model.bin here")
    data = np.memmap(path, dtype=np.uint8, mode="r")
    r = _Reader(path, data)
    (version,) = r.unpack("<I")
    if version not in SUPPORTED_VERSIONS:
        raise EdgeSSLError(f"{path}: CTranslate2 binary version {version} is not supported "
                           f"(expected {' or '.join(map(str, SUPPORTED_VERSIONS))}); is this a CTranslate2 model.bin?")
    spec = r.string()
    (revision,) = r.unpack("<I")
    (count,) = r.unpack("<I")
    variables, bf16 = {}, set()
    for _ in range(count):
        name = r.string()
        (rank,) = r.unpack("<B")
        shape = r.unpack(f"<{rank}I") if rank else ()
        dtype_id, nbytes = r.unpack("<BI")
        if dtype_id not in DTYPES:
            raise EdgeSSLError(f"{path}: variable {name!r} has unknown CTranslate2 dtype id {dtype_id}")
        dtype = np.dtype(DTYPES[dtype_id])
        expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
        if nbytes != expected:
            raise EdgeSSLError(f"{path}: variable {name!r} of shape {shape} and dtype {dtype} should take "
                               f"{expected} bytes, the file says {nbytes}")
        variables[name] = r.take(nbytes).view(dtype).reshape(shape)  # (*shape,) read-only view of the file
        if dtype_id == BFLOAT16:
            bf16.add(name)
    if r.pos < len(data):
        (n_alias,) = r.unpack("<I")
        for _ in range(n_alias):
            alias, target = r.string(), r.string()
            if target not in variables:
                raise EdgeSSLError(f"{path}: alias {alias!r} points at unknown variable {target!r}")
            variables[alias] = variables[target]
            if target in bf16:
                bf16.add(alias)
    config = {}
    cfg_path = path.parent / "config.json"
    if cfg_path.is_file():
        try:
            config = json.loads(cfg_path.read_text())
        except json.JSONDecodeError as e:
            raise EdgeSSLError(f"{cfg_path}: not valid JSON ({e})") from None
    return CT2Model(path, spec, revision, variables, bf16, config)
