import os
import subprocess
import sys

import pytest
import torch

from flowerstudio.core.checkpoints import (
    CheckpointError, ModelInfo, load_model, load_resume_state, read_model_info, save_model, save_resume_state,
)
from flowerstudio.core.models import build_classifier


def _model_and_info():
    model = build_classifier("efficientnet_lite0", 3, pretrained=False).eval()
    info = ModelInfo("efficientnet_lite0", ["1", "2", "10"], ["a", "b", "c"], 64, [0.5] * 3, [0.5] * 3, 0.9, 4)
    return model, info


def test_round_trip_keeps_weights_and_metadata(tmp_path):
    model, info = _model_and_info()
    save_model(tmp_path / "m.safetensors", model, info)
    loaded, info2 = load_model(tmp_path / "m.safetensors")
    assert info2.classes == ["1", "2", "10"] and info2.best_val_acc == 0.9 and info2.torch_version
    x = torch.randn(2, 3, 64, 64)
    with torch.inference_mode():
        assert torch.allclose(model(x), loaded(x))


def test_damaged_and_foreign_files_give_clear_errors(tmp_path):
    from safetensors.torch import save_file

    model, info = _model_and_info()
    good = tmp_path / "good.safetensors"
    save_model(good, model, info)
    data = good.read_bytes()
    cases = {
        "truncated.safetensors": data[: len(data) // 2],
        "header-only.safetensors": data[:200],
        "random.safetensors": os.urandom(5000),
        "empty.safetensors": b"",
    }
    for name, blob in cases.items():
        (tmp_path / name).write_bytes(blob)
        with pytest.raises(CheckpointError, match=name):
            load_model(tmp_path / name)
    save_file({"w": torch.zeros(2)}, str(tmp_path / "foreign.safetensors"))
    with pytest.raises(CheckpointError, match="not a Flower Studio model"):
        read_model_info(tmp_path / "foreign.safetensors")
    with pytest.raises(CheckpointError, match="not found"):
        read_model_info(tmp_path / "missing.safetensors")


def test_failed_write_leaves_previous_file_loadable(tmp_path, monkeypatch):
    model, info = _model_and_info()
    path = tmp_path / "best.safetensors"
    save_model(path, model, info)

    def crash(*args):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", crash)
    info.best_val_acc = 0.95
    with pytest.raises(OSError):
        save_model(path, model, info)
    monkeypatch.undo()
    assert read_model_info(path).best_val_acc == 0.9
    assert sorted(p.name for p in tmp_path.iterdir()) == ["best.safetensors"]  # no temp file left


_SAVER = """
import os, sys
from flowerstudio.core.checkpoints import ModelInfo, save_model
from flowerstudio.core.models import build_classifier
model = build_classifier("efficientnet_lite0", 3, pretrained=False)
info = ModelInfo("efficientnet_lite0", ["a", "b", "c"], ["a", "b", "c"], 64, [0.5] * 3, [0.5] * 3, epoch=1)
save_model(sys.argv[1], model, info)

def inside_the_write():  # tell the test, then wait for the kill
    print("inside", flush=True)
    sys.stdin.read()

import safetensors.torch

def half_written(tensors, filename, metadata=None):  # half the bytes reach the disk, then the process dies
    data = safetensors.torch.save(tensors, metadata=metadata)
    with open(filename, "wb") as fh:
        fh.write(data[: len(data) // 2])
    inside_the_write()

if sys.argv[2] == "mid-data":
    safetensors.torch.save_file = half_written
else:  # written and fsynced, not yet renamed
    os.replace = lambda src, dst: inside_the_write()
info.epoch = 2
save_model(sys.argv[1], model, info)
"""


@pytest.mark.parametrize("moment", ["mid-data", "before-rename"])
def test_killed_process_never_leaves_an_unreadable_checkpoint(tmp_path, moment):
    """Kill a process inside its second save (the child says when it is there): the first one must load."""
    path = tmp_path / "best.safetensors"
    proc = subprocess.Popen([sys.executable, "-c", _SAVER, str(path), moment], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "inside"
        temp = [p for p in tmp_path.iterdir() if p != path]
        assert len(temp) == 1 and 0 < temp[0].stat().st_size  # the kill lands inside a real write
    finally:
        proc.kill()
        proc.wait()
    model, info = load_model(path)
    assert info.epoch == 1


def test_resume_state_loads_weights_only(tmp_path):
    model = torch.nn.Linear(3, 2)
    opt = torch.optim.Adam(model.parameters())
    save_resume_state(tmp_path / "s.pt", {"epoch": 3, "optimizer": opt.state_dict(), "torch_rng": torch.get_rng_state()})
    assert load_resume_state(tmp_path / "s.pt")["epoch"] == 3
    (tmp_path / "bad.pt").write_bytes(b"nope")
    with pytest.raises(CheckpointError, match="bad.pt"):
        load_resume_state(tmp_path / "bad.pt")
