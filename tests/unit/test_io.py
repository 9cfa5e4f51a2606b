import os

import pytest

from edge_ssl.io import atomic_path, atomic_write_text


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
