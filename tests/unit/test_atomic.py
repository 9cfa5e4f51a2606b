import os

import pytest

from edge_ssl.atomic import atomic_path, atomic_write_text


def test_atomic_write_replaces_whole_and_is_readable(tmp_path):
    p = tmp_path / "a" / "f.txt"
    atomic_write_text(p, "one")
    atomic_write_text(p, "two")
    assert p.read_text() == "two"
    assert os.stat(p).st_mode & 0o044  # group/other can read: not mkstemp's 0600
    assert [x.name for x in p.parent.iterdir()] == ["f.txt"]


def test_failed_write_leaves_old_file(tmp_path):
    p = tmp_path / "f.txt"
    atomic_write_text(p, "good")
    with pytest.raises(RuntimeError):
        with atomic_path(p) as tmp:
            tmp.write_text("half")
            raise RuntimeError("killed")
    assert p.read_text() == "good" and len(list(tmp_path.iterdir())) == 1


class Evil:
    """A pickle that would run a command when loaded with weights_only=False."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def test_malicious_pickle_is_refused_by_name_without_unsafe_advice(tmp_path):  # issue 18 #13
    import torch

    from edge_ssl.errors import EdgeSSLError
    from edge_ssl.atomic import torch_load_weights

    torch.save({"model": Evil(tmp_path / "pwned")}, tmp_path / "evil.pt")
    with pytest.raises(EdgeSSLError) as e:
        torch_load_weights(tmp_path / "evil.pt")
    msg = str(e.value)
    assert str(tmp_path / "evil.pt") in msg and "system" in msg and "weights_only" not in msg
    assert "\n" not in msg and not (tmp_path / "pwned").exists()
