"""Quitting during any background job ends the process cleanly: cancel, bounded wait, exit code 0."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

DRIVER = Path(__file__).with_name("quit_driver.py")
KINDS = ["scan", "train", "lr_find", "load_model", "predict", "evaluate", "export"]


@pytest.fixture(scope="module")
def many_photos(tmp_path_factory):
    from imagefactory import make_dataset

    return make_dataset(tmp_path_factory.mktemp("quit") / "data", classes=("daisy", "rose"), per_class=120,
                        layout="flat")


@pytest.mark.parametrize("kind", KINDS)
def test_closing_the_window_during_a_job_exits_cleanly(kind, many_photos, trained_run, tmp_path):
    from flowerstudio.core.model.model_file import load_model

    runs = tmp_path / "runs"
    proc = subprocess.run([sys.executable, str(DRIVER), kind, str(many_photos), str(trained_run.best_path),
                           str(runs)], capture_output=True, text=True, timeout=240,
                          env={**os.environ, "QT_QPA_PLATFORM": "offscreen",  # the user's settings stay untouched
                               "XDG_CONFIG_HOME": str(tmp_path / "config"), "XDG_DATA_HOME": str(tmp_path / "data")})
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    assert f"closing during {kind}" in proc.stdout, out
    assert "QThread" not in out and "ERROR BOX" not in out, out
    for best in runs.rglob("best.safetensors"):  # what training kept loads
        load_model(best)
    if kind == "train":
        assert list(runs.rglob("best.safetensors")), out
