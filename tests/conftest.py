import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # tests import imagefactory directly


@pytest.fixture(autouse=True, scope="session")
def _isolated_user_dirs(tmp_path_factory):
    """Feature cache, torch hub, runs, sort logs, speeds and reviews go to temp folders: tests never touch
    the user's."""
    os.environ["FLOWERSTUDIO_CACHE_DIR"] = str(tmp_path_factory.mktemp("feature-cache"))
    os.environ["XDG_DATA_HOME"] = str(tmp_path_factory.mktemp("user-data"))
    os.environ["FLOWERSTUDIO_SORT_LOGS"] = str(tmp_path_factory.mktemp("sort-logs"))
    os.environ["FLOWERSTUDIO_SPEEDS_FILE"] = str(tmp_path_factory.mktemp("speeds") / "speeds.json")
    import torch

    torch.hub.set_dir(str(tmp_path_factory.mktemp("torch-hub")))
    torch.set_num_threads(min(2, os.cpu_count() or 1))


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory):
    """Three learnable classes with numeric folder names and display names, plus a broken photo."""
    from imagefactory import make_dataset, write_broken_files

    root = make_dataset(tmp_path_factory.mktemp("data"), classes=("1", "2", "10"), per_class=8,
                        names={"1": "pink primrose", "2": "hard-leaved pocket orchid", "10": "globe thistle"},
                        with_test=True)
    write_broken_files(root / "train" / "2")
    return root


@pytest.fixture(scope="session")
def trained_run(tiny_data, tmp_path_factory):
    """A finished frozen-stage run on tiny_data (shared by predict/evaluate tests)."""
    from flowerstudio.core.training.trainer import train
    from tinyrun import tiny_config

    result = train(tiny_config(tiny_data, tmp_path_factory.mktemp("runs"), epochs=6))
    assert result.status == "completed"
    return result
