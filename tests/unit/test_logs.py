"""What C++ code writes to stderr inside ``native_stderr`` (ExecuTorch's cpuinfo probe) is hidden, and shown
after all if the block fails: a native error message is never lost."""
import os

import pytest

from edge_ssl.logs import native_stderr


def test_native_stderr_is_hidden_unless_the_block_fails(capfd):
    with native_stderr():
        os.write(2, b"[cpuinfo_utils.cpp:71] Reading file /sys/devices/soc0/image_version\n")
    assert capfd.readouterr().err == ""
    with pytest.raises(RuntimeError):
        with native_stderr():
            os.write(2, b"[method.cpp:9] native error\n")
            raise RuntimeError("load failed")
    assert "native error" in capfd.readouterr().err
