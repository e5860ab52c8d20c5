import os
import subprocess
import sys

import pytest
import torch

from flowerstudio.core.model.classifier import build_classifier
from flowerstudio.core.model.model_file import CheckpointError, ModelInfo, load_model, read_model_info
from flowerstudio.core.runs.history import RunError
from flowerstudio.core.runs.resume_state import ResumeState
from modelfiles import save_model


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
from flowerstudio.core.model.model_file import ModelInfo, save_weights
from flowerstudio.core.model.classifier import build_classifier
model = build_classifier("efficientnet_lite0", 3, pretrained=False)
info = ModelInfo("efficientnet_lite0", ["a", "b", "c"], ["a", "b", "c"], 64, [0.5] * 3, [0.5] * 3, epoch=1)
save_weights(sys.argv[1], model.state_dict(), info)

def inside_the_write():  # tell the test, then wait for the kill
    print("inside", flush=True)
    sys.stdin.read()

real_fdopen = os.fdopen

class HalfWritten:  # half the bytes reach the disk, then the process dies
    def __init__(self, fh):
        self.fh = fh
    def __enter__(self):
        return self
    def __exit__(self, *exc):
        self.fh.close()
    def write(self, data):
        self.fh.write(data[: len(data) // 2])
        self.fh.flush()
        inside_the_write()
    def flush(self):
        pass
    def fileno(self):
        return self.fh.fileno()

if sys.argv[2] == "mid-data":
    os.fdopen = lambda fd, mode: HalfWritten(real_fdopen(fd, mode))
else:  # written and fsynced, not yet renamed
    os.replace = lambda src, dst: inside_the_write()
info.epoch = 2
save_weights(sys.argv[1], model.state_dict(), info)
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
    sched = torch.optim.lr_scheduler.StepLR(opt, 2)
    ResumeState(3, 1, opt.state_dict(), sched.state_dict(), torch.get_rng_state()).save(tmp_path / "s.pt")
    state = ResumeState.load(tmp_path / "s.pt")
    assert state.epoch == 3 and state.epochs_left(5) == 2
    (tmp_path / "bad.pt").write_bytes(b"nope")
    with pytest.raises(RunError, match="bad.pt.*damaged"):
        ResumeState.load(tmp_path / "bad.pt")
    with pytest.raises(RunError, match="missing.pt is missing"):
        ResumeState.load(tmp_path / "missing.pt")


def test_weights_that_are_not_finite_are_refused_by_name(tmp_path):
    """Garbage in a model file's weights would give every photo a 'nan' confidence: refused when loading."""
    model, info = _model_and_info()
    state = model.state_dict()
    state["head.weight"] = torch.full_like(state["head.weight"], float("nan"))
    from flowerstudio.core.model.model_file import save_weights

    save_weights(tmp_path / "nan.safetensors", state, info)
    with pytest.raises(CheckpointError, match="nan.safetensors.*head.weight.*not finite"):
        load_model(tmp_path / "nan.safetensors")
