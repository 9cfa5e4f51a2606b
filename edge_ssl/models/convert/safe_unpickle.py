"""Read a fairseq ``.pt`` checkpoint without running any code named in its pickle.

fairseq writes its checkpoints with ``torch.save``: tensors plus an ``argparse.Namespace`` (``args``, fairseq
< 0.10) or an omegaconf ``DictConfig`` (``cfg``, fairseq >= 0.10), and sometimes fairseq objects (the
fine-tuning task's ``Dictionary``). A plain ``torch.load`` would import and call whatever the pickle names,
so a downloaded file could run arbitrary code. Instead:

1. the pickle is scanned first (``pickletools``, nothing executed) and every global it names must be on
   the allow-list below, or the load is refused with the offending names;
2. ``torch.load(weights_only=True)`` then unpickles it, with each allowed name bound to a *stand-in*
   defined here (``Record`` subclasses that only store their state), never to the real class.

So neither argparse, omegaconf nor fairseq code runs, and ``os.system`` & co. are never reached. The
stand-ins are turned back into plain dicts/lists by ``to_python``. Going through ``torch.load`` rather than
a hand-written ``pickle.Unpickler`` reuses torch's own restricted unpickler and its storage handling for
both the zip format (torch >= 1.6) and the legacy stream that 2020-era checkpoints use; the pre-scan is
what turns "unknown global" into an error that names it before anything is unpickled.
"""
from __future__ import annotations

import _compat_pickle
import logging
import pickletools
import re
import zipfile
from pathlib import Path
from typing import Any

import torch

from edge_ssl.errors import EdgeSSLError

log = logging.getLogger(__name__)


class Record:
    """Stand-in for an allow-listed class: keeps constructor args and pickled state, runs nothing."""

    qualified_name = "?"

    def __init__(self, *args: Any) -> None:  # REDUCE: cls(*args), e.g. an enum member by value
        self.args = args

    def __setstate__(self, state: Any) -> None:  # BUILD: a __dict__ (or anything else, kept as is)
        if isinstance(state, dict):
            self.__dict__.update(state)
        else:
            self.state = state

    def __repr__(self) -> str:
        return f"<stand-in {self.qualified_name}>"


def _defaultdict(*_args: Any) -> dict:
    """``collections.defaultdict(factory)`` -> a plain dict; the factory (a stand-in) is never called."""
    return {}


# Exact names a fairseq checkpoint may reference, bound to stand-ins. Containers and value nodes of
# omegaconf, argparse's Namespace, the type objects omegaconf keeps as metadata, numpy scalars that
# fairseq's meters leave in ``extra_state``.
_CLASSES = [
    "argparse.Namespace",
    "omegaconf.dictconfig.DictConfig", "omegaconf.listconfig.ListConfig",
    "omegaconf.base.ContainerMetadata", "omegaconf.base.Metadata",
    "omegaconf.nodes.AnyNode", "omegaconf.nodes.StringNode", "omegaconf.nodes.IntegerNode",
    "omegaconf.nodes.FloatNode", "omegaconf.nodes.BooleanNode", "omegaconf.nodes.EnumNode",
    "omegaconf.nodes.BytesNode", "omegaconf.nodes.PathNode", "omegaconf.nodes.ValueNode",
    "typing.Any", "builtins.dict", "builtins.list", "builtins.tuple", "builtins.int", "builtins.float",
    "builtins.str", "builtins.bool", "builtins.bytes", "builtins.object", "builtins.NoneType",
    "pathlib.PosixPath", "pathlib.WindowsPath",
    "numpy.dtype", "numpy.core.multiarray.scalar", "numpy._core.multiarray.scalar",
    "numpy.core.multiarray._reconstruct", "numpy._core.multiarray._reconstruct", "numpy.ndarray",
]
_FUNCTIONS = {"collections.defaultdict": _defaultdict}
# fairseq's own classes (Dictionary, dataclass enums): any name in these packages becomes a Record.
_ALLOWED_PACKAGES = ("fairseq.", "fairseq_cli.")


def _allowed(name: str) -> bool:
    return name in _CLASSES or name in _FUNCTIONS or name.startswith(_ALLOWED_PACKAGES)


def _stand_in(name: str) -> Any:
    if name in _FUNCTIONS:
        return _FUNCTIONS[name]
    return type(name.rsplit(".", 1)[-1], (Record,), {"qualified_name": name})


def _globals_in(stream, count: int) -> set[str]:
    """Names referenced by the next ``count`` pickles in ``stream``, read with pickletools (no execution)."""
    names = set()
    for _ in range(count):
        for op, arg, _pos in pickletools.genops(stream):
            if op.name == "GLOBAL":
                module, name = arg.split(" ", 1)
                # Protocol 2 writes Python 2 names (__builtin__.dict); the unpickler maps them back, as here.
                if (module, name) in _compat_pickle.NAME_MAPPING:
                    module, name = _compat_pickle.NAME_MAPPING[(module, name)]
                module = _compat_pickle.IMPORT_MAPPING.get(module, module)
                names.add(f"{module}.{name}")
            elif op.name in ("STACK_GLOBAL", "INST", "OBJ", "EXT1", "EXT2", "EXT4"):
                # torch.save uses protocol 2, which names globals with GLOBAL only; anything else hides them.
                raise EdgeSSLError(f"pickle opcode {op.name} is not allowed in a checkpoint")
    return names


def referenced_globals(path: Path) -> set[str]:
    """Every global the checkpoint's pickle names: zip format (torch >= 1.6) or the legacy stream."""
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as z:
            pkl = [n for n in z.namelist() if n.endswith("/data.pkl") or n == "data.pkl"]
            if len(pkl) != 1:
                raise EdgeSSLError("not a torch.save checkpoint (no single data.pkl inside the zip)")
            with z.open(pkl[0]) as f:
                return _globals_in(f, 1)
    with open(path, "rb") as f:  # legacy: magic, protocol, sys info, then the object; raw storages follow
        return _globals_in(f, 4)


def load_checkpoint(path: str | Path) -> Any:
    """Unpickle a torch.save checkpoint with stand-ins for the allow-listed globals; refuse any other."""
    path = Path(path)
    if not path.is_file():
        raise EdgeSSLError(f"checkpoint not found: {path}")
    try:
        names = referenced_globals(path)
    except EdgeSSLError as e:
        raise EdgeSSLError(f"{path}: {e}") from None
    except Exception as e:  # truncated or not a pickle at all
        raise EdgeSSLError(f"{path}: not a readable torch/fairseq checkpoint ({type(e).__name__}: {e})") from None
    unknown = sorted(n for n in names if not _allowed(n) and not _torch_allows(n))
    if unknown:
        raise EdgeSSLError(
            f"{path}: refusing to load: the pickle references {', '.join(unknown)}, which is not on the "
            "allow-list of a fairseq checkpoint (nothing from the file was run)")
    stand_ins = [(_stand_in(n), n) for n in sorted(names) if _allowed(n)]
    log.debug("%s: unpickling with stand-ins for %s", path, ", ".join(n for _, n in stand_ins))
    try:
        with torch.serialization.safe_globals(stand_ins):
            return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:
        raise EdgeSSLError(f"{path}: cannot unpickle the checkpoint safely ({type(e).__name__}: {e})") from None


def _torch_allows(name: str) -> bool:
    """Tensor/storage rebuild functions, OrderedDict, dtypes: what weights_only loading itself allows."""
    from torch._weights_only_unpickler import _get_allowed_globals  # private, but torch is pinned exactly

    return name in _get_allowed_globals()


_INTERPOLATION = re.compile(r"^\$\{([\w.]+)\}$")


def to_python(obj: Any) -> Any:
    """Stand-ins -> plain Python: DictConfig -> dict, ListConfig -> list, value nodes -> their value, enum
    stand-ins -> their value, Namespace and other records -> dict of attributes. Simple ``${a.b}``
    interpolations are then resolved against the top-level object."""
    return _resolve(_plain(obj))


def _plain(obj: Any) -> Any:
    if isinstance(obj, Record):
        state = vars(obj)
        if "_content" in state:  # omegaconf container
            content = state["_content"]
            if isinstance(content, dict):
                return {str(_plain(k)): _plain(v) for k, v in content.items()}
            if isinstance(content, (list, tuple)):
                return [_plain(v) for v in content]
            return content  # None, "???" (missing) or an interpolation string
        if "_val" in state:  # omegaconf value node
            return _plain(state["_val"])
        if set(state) == {"args"}:  # built by REDUCE: an enum member by value
            return _plain(state["args"][0]) if len(state["args"]) == 1 else [_plain(a) for a in state["args"]]
        return {k: _plain(v) for k, v in state.items()}
    if isinstance(obj, dict):
        return {k: _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    return obj


def _resolve(tree: Any, root: Any = None) -> Any:
    """Replace ``"${a.b.c}"`` strings by the value at that path from the root (one level of indirection)."""
    root = tree if root is None else root
    if isinstance(tree, dict):
        return {k: _resolve(v, root) for k, v in tree.items()}
    if isinstance(tree, list):
        return [_resolve(v, root) for v in tree]
    if isinstance(tree, str) and (m := _INTERPOLATION.match(tree)):
        node = root
        for part in m.group(1).split("."):
            if not isinstance(node, dict) or part not in node:
                return tree
            node = node[part]
        return node
    return tree
