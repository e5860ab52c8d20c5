"""`flowerstudio train` under torchrun (2 processes, Gloo on CPU) behaves like one process."""
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from imagefactory import make_dataset

from flowerstudio.core.model.model_file import read_model_info
from flowerstudio.core.runtime.distributed import Distributed
from tinyrun import run_folders

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


def _val_accuracy(run):
    """The best model's accuracy on the run's whole validation split, measured here in one process."""
    from flowerstudio.core.labelling.predict import Predictor

    root = Path(json.loads((run / "config.json").read_text())["data_dir"])
    paths = [str(root / rel) for rel in json.loads((run / "split.json").read_text())["val"]]
    predictor = Predictor(run / "best.safetensors", "cpu")
    truth = [predictor.info.classes.index(Path(p).parent.name) for p in paths]
    preds = predictor.predict(paths).predictions
    assert len(preds) == len(paths) == 12
    return sum(p.label == t for p, t in zip(preds, truth)) / len(paths)


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
    (run1,), (run2,) = run_folders(tmp_path / "one"), run_folders(tmp_path / "two")
    info1, info2 = read_model_info(run1 / "best.safetensors"), read_model_info(run2 / "best.safetensors")
    assert _safetensors_layout(run1 / "best.safetensors") == _safetensors_layout(run2 / "best.safetensors")
    assert info1.classes == info2.classes and info1.backbone == info2.backbone
    hist1, hist2 = (json.loads((r / "history.json").read_text()) for r in (run1, run2))
    assert [h["epoch"] for h in hist2] == [1, 2, 3]
    if not mode:  # feature cache: every rank trains the head on the same gathered features, as one process does
        assert [h["val_acc"] for h in hist2] == pytest.approx([h["val_acc"] for h in hist1], abs=1e-6)
    # Rank 0 reports the accuracy of the whole validation split (summed over ranks), not of its half.
    assert info2.best_val_acc == pytest.approx(_val_accuracy(run2), abs=1e-6)
    assert info2.best_val_acc >= 0.75
    assert sorted(p.name for p in run1.iterdir()) == sorted(p.name for p in run2.iterdir())


def test_a_failing_rank_ends_the_job_with_its_message(data, tmp_path):
    """The job ends because a rank failed, not because rank 0 gave up waiting for it (300 s)."""
    start = time.monotonic()
    out = _torchrun(["train", str(data), *ARGS, "--no-feature-cache", "--output", str(tmp_path / "runs")],
                    {"FLOWERSTUDIO_CACHE_DIR": str(tmp_path / "cache"), "FLOWERSTUDIO_DIST_TIMEOUT": "300"},
                    timeout=420, entry=(str(Path(__file__).resolve().parents[2] / "ddp_failing_entry.py"),))
    assert out.returncode != 0
    assert "simulated failure on rank 1" in out.stdout + out.stderr
    assert time.monotonic() - start < 150  # well under the 300 s wait, and reachable before the 420 s timeout


def test_single_process_needs_no_process_group(monkeypatch):
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    d = Distributed.from_env()
    assert not d.enabled and d.is_main and d.sum(1.0, 2.0) == [1.0, 2.0] and d.gather("x") == ["x"]
    assert d.broadcast(5) == 5 and d.any(True)
