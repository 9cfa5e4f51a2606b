"""Issue 18 #13: an HF folder whose pytorch_model.bin pickles a call to os.system is refused (nothing runs), but
with a 17-frame traceback whose last line advises re-running with weights_only=False."""
import os

import pytest
import torch

from hf_reference import random_model, save_folder


class Evil:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def test_malicious_pytorch_model_bin_is_one_clear_line(tmp_path, run_cli, capsys):
    folder = save_folder(random_model("wav2vec2"), tmp_path / "hf", "bin")
    torch.save({"weight": Evil(tmp_path / "pwned")}, folder / "pytorch_model.bin")
    capsys.readouterr()  # transformers' own progress bar while the test saves the folder
    code, err = run_cli("import", folder, "--out", tmp_path / "m.safetensors")
    assert not (tmp_path / "pwned").exists()
    assert code == 2 and "system" in err and "weights_only" not in err
    assert len(err.strip().splitlines()) == 1
