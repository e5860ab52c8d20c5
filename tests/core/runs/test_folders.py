"""Run folders read back: read_run never raises for a half-written run; previous_run finds the data's run."""
import os
import shutil
from pathlib import Path

from flowerstudio.core.runs import folders as runs
from flowerstudio.core.foundation.config import TrainConfig
from flowerstudio.core.runs.folders import previous_run, read_run
from flowerstudio.core.foundation.vocab import TrainMode


def test_read_a_finished_run(trained_run):
    summary = read_run(trained_run.run_dir)
    assert summary.run_dir == Path(trained_run.run_dir)
    assert isinstance(summary.config, TrainConfig) and summary.config.train_mode is TrainMode.FROZEN
    assert summary.history == trained_run.history
    assert summary.best_path == Path(trained_run.best_path)
    assert "epoch 6" in summary.log_text


def test_read_an_empty_or_damaged_run(tmp_path):
    empty = read_run(tmp_path)
    assert (empty.config, empty.history, empty.best_path, empty.log_text) == (None, [], None, "")
    (tmp_path / "config.json").write_text('{"data_dir": "/x", "epochs"')  # cut off mid-write
    (tmp_path / "history.json").write_text('[{"epoch": 1}]')  # rows that are no epochs
    (tmp_path / "train.log").write_bytes(b"ok \xff\n")
    damaged = read_run(tmp_path)
    assert (damaged.config, damaged.history, damaged.best_path) == (None, [], None)
    assert damaged.log_text.startswith("ok ")
    for text in ('{"train_mode": "half"}', "[1, 2]", '{"augment": 3}'):
        (tmp_path / "config.json").write_text(text)
        assert read_run(tmp_path).config is None
    (tmp_path / "history.json").write_text('{"not": "a list"}')
    assert read_run(tmp_path).history == []


def _fake_run(root: Path, name: str, data_dir: str, age: int) -> Path:
    run = root / name
    run.mkdir(parents=True)
    TrainConfig(data_dir=data_dir).save(run / "config.json")
    (run / runs.BEST).write_bytes(b"")
    os.utime(run / runs.BEST, (1_000_000 - age, 1_000_000 - age))
    return run


def test_previous_run_is_the_latest_on_that_folder(tmp_path):
    root = tmp_path / "runs"
    assert previous_run(root, str(tmp_path / "flowers")) is None  # no runs folder yet
    older = _fake_run(root, "a", str(tmp_path / "flowers"), age=30)
    _fake_run(root, "b", str(tmp_path / "trash"), age=10)  # the latest run overall, other data
    newer = _fake_run(root, "c", str(tmp_path / "flowers") + "/", age=20)  # same folder, written differently
    broken = _fake_run(root, "d", str(tmp_path / "flowers"), age=0)
    (broken / "config.json").write_text("{")
    unfinished = root / "e"  # no best model yet
    unfinished.mkdir()
    TrainConfig(data_dir=str(tmp_path / "flowers")).save(unfinished / "config.json")
    assert previous_run(root, str(tmp_path / "flowers")) == newer
    shutil.rmtree(newer)
    assert previous_run(str(root), str(tmp_path / "flowers")) == older
    assert previous_run(root, str(tmp_path / "other")) is None
