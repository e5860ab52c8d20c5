"""`flowerstudio train` under torchrun (2 processes, Gloo on CPU) behaves like one process."""
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from imagefactory import make_dataset

from flowerstudio.core.checkpoints import read_model_info
from flowerstudio.core.distributed import Distributed

ARGS = ["--input-size", "64", "--epochs", "3", "--batch-size", "8", "--lr", "0.003", "--cache-views", "2"]


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return make_dataset(tmp_path_factory.mktemp("ddp") / "data", classes=("a", "b", "c"), per_class=12)


def _torchrun(args, env_extra, timeout=240, entry=("-m", "flowerstudio")):
    env = {**os.environ, **env_extra, "PYTHONUNBUFFERED": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           *entry, *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)


def _single(args, env_extra):
    env = {**os.environ, **env_extra}
    return subprocess.run([sys.executable, "-m", "flowerstudio", *args], capture_output=True, text=True,
                          timeout=240, env=env)


def _safetensors_layout(path):
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as fh:
        return {k: tuple(fh.get_slice(k).get_shape()) for k in fh.keys()}, set(fh.metadata())


@pytest.mark.parametrize("mode", [["--no-feature-cache"], []], ids=["images", "feature-cache"])
def test_two_processes_match_one(data, tmp_path, mode):
    env = {"FLOWERSTUDIO_CACHE_DIR": str(tmp_path / "cache")}
    one = _single(["train", str(data), *ARGS, *mode, "--output", str(tmp_path / "one")],
                  {"FLOWERSTUDIO_CACHE_DIR": str(tmp_path / "cache1")})
    assert one.returncode == 0, one.stderr
    two = _torchrun(["train", str(data), *ARGS, *mode, "--output", str(tmp_path / "two")], env)
    assert two.returncode == 0, two.stderr[-3000:]
    assert two.stdout.count("completed: best validation accuracy") == 1  # rank 0 alone reports
    (run1,), (run2,) = (tmp_path / "one").iterdir(), (tmp_path / "two").iterdir()
    info1, info2 = read_model_info(run1 / "best.safetensors"), read_model_info(run2 / "best.safetensors")
    assert _safetensors_layout(run1 / "best.safetensors") == _safetensors_layout(run2 / "best.safetensors")
    assert info1.classes == info2.classes and info1.backbone == info2.backbone
    assert abs(info1.best_val_acc - info2.best_val_acc) <= 0.25
    assert info2.best_val_acc >= 0.75
    hist = json.loads((run2 / "history.json").read_text())
    assert [h["epoch"] for h in hist] == [1, 2, 3]
    assert sorted(p.name for p in run1.iterdir()) == sorted(p.name for p in run2.iterdir())


def test_a_failing_rank_ends_the_job_with_its_message(data, tmp_path):
    start = time.monotonic()
    out = _torchrun(["train", str(data), *ARGS, "--no-feature-cache", "--output", str(tmp_path / "runs")],
                    {"FLOWERSTUDIO_CACHE_DIR": str(tmp_path / "cache"), "FLOWERSTUDIO_DIST_TIMEOUT": "60"},
                    timeout=200, entry=(str(Path(__file__).parent / "ddp_failing_entry.py"),))
    assert out.returncode != 0
    assert "simulated failure on rank 1" in out.stdout + out.stderr
    assert time.monotonic() - start < 200


def test_single_process_needs_no_process_group(monkeypatch):
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    d = Distributed.from_env()
    assert not d.enabled and d.is_main and d.sum(1.0, 2.0) == [1.0, 2.0] and d.gather("x") == ["x"]
    assert d.broadcast(5) == 5 and d.any(True)
