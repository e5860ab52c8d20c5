"""Faults of the disk and damaged files, through the CLI as a user meets them: a clear message naming the
file (exit status 2), the work already done kept, nothing overwritten unasked, no litter left behind.

Full and read-only disks are simulated at the write layer (the one place files are written, or the check
before long work), so these run anywhere; tests/faults/fault_run.py does the same on real small disks."""
import errno
import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from imagefactory import make_dataset
from tinyrun import run_folders

from flowerstudio.cli import main
from flowerstudio.core.foundation.errors import DiskError, describe

TRAIN = ["--input-size", "64", "--epochs", "2", "--batch-size", "8", "--cache-views", "1"]


def _err(capsys) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return err


def test_a_csv_never_overwrites_a_file_unasked_and_never_the_model_or_a_photo(trained_run, tiny_data, tmp_path,
                                                                             capsys):
    photos = str(tiny_data / "test")
    existing = tmp_path / "labels.csv"
    existing.write_text("the user's own table")
    model_bytes = Path(trained_run.best_path).read_bytes()
    assert main(["predict", trained_run.best_path, photos, "--csv", str(existing)]) == 2
    assert "already exists" in _err(capsys) and existing.read_text() == "the user's own table"
    for target in (trained_run.best_path, next((tiny_data / "test" / "1").iterdir())):
        before = Path(target).read_bytes()
        assert main(["predict", trained_run.best_path, photos, "--csv", str(target), "--overwrite"]) == 2
        assert "is never overwritten" in _err(capsys) and Path(target).read_bytes() == before
    assert Path(trained_run.best_path).read_bytes() == model_bytes
    assert main(["predict", trained_run.best_path, photos, "--csv", str(existing), "--overwrite"]) == 0
    assert existing.read_text().startswith("path,label,confidence")


def test_report_folders_are_checked_before_the_work(trained_run, tiny_data, tmp_path, capsys, monkeypatch):
    out = tmp_path / "report"
    out.mkdir()
    (out / "report.json").write_text("{}")
    assert main(["evaluate", trained_run.best_path, str(tiny_data), "--out", str(out)]) == 2
    assert "already holds report.json" in _err(capsys) and (out / "report.json").read_text() == "{}"

    def read_only(*_a, **_k):
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr("flowerstudio.core.foundation.errors.tempfile.mkstemp", read_only)
    events = []
    monkeypatch.setattr("flowerstudio.core.labelling.evaluate.choose_photos", lambda *a, **k: events.append(a))
    assert main(["evaluate", trained_run.best_path, str(tiny_data), "--out", str(tmp_path / "new")]) == 2
    err = _err(capsys)
    assert "the disk is read-only" in err and "new" in err and events == []  # said before any photo was read


def test_a_late_write_that_fails_keeps_what_fits_and_says_what_did_not(trained_run, tiny_data, tmp_path, capsys,
                                                                        monkeypatch):
    from flowerstudio.core.labelling import eval_report

    real = eval_report.write_csv_file

    def full_for_mistakes(path, header, rows):
        if Path(path).name == "mistakes.csv":
            raise DiskError(path, OSError(errno.ENOSPC, "No space left on device"))
        return real(path, header, rows)

    monkeypatch.setattr(eval_report, "write_csv_file", full_for_mistakes)
    assert main(["evaluate", trained_run.best_path, str(tiny_data), "--out", str(tmp_path / "rep")]) == 2
    captured = capsys.readouterr()
    assert "accuracy" in captured.out and "Traceback" not in captured.err  # the result was printed all the same
    assert "mistakes.csv" in captured.err and "the disk is full" in captured.err
    assert {p.name for p in (tmp_path / "rep").iterdir()} == {"report.json", "per_class.csv", "confusion.csv",
                                                               "photos.csv"}


def test_a_runs_folder_without_room_is_refused_before_training(tiny_data, tmp_path, capsys, monkeypatch):
    from collections import namedtuple

    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr("flowerstudio.core.foundation.errors.shutil.disk_usage", lambda _p: usage(10**9, 10**9, 10**6))
    assert main(["train", str(tiny_data), "--output", str(tmp_path / "runs"), *TRAIN]) == 2
    err = _err(capsys)
    assert "the disk is full (1 MB free" in err and "runs" in err and "What to do:" in err
    assert not (tmp_path / "runs").exists() or run_folders(tmp_path / "runs") == []


def test_a_disk_that_fills_up_during_training_ends_with_the_reason_in_the_log(tiny_data, tmp_path, capsys,
                                                                              monkeypatch):
    from flowerstudio.core.model import model_file

    def full(path, data):
        raise DiskError(path, OSError(errno.ENOSPC, "No space left on device"))

    monkeypatch.setattr(model_file, "atomic_write_bytes", full)
    assert main(["train", str(tiny_data), "--output", str(tmp_path / "runs"), *TRAIN]) == 2
    assert "best.safetensors: the disk is full" in _err(capsys)
    (run,) = run_folders(tmp_path / "runs")
    log = (run / "train.log").read_text()
    assert "Run folder" in log and "error: Cannot write" in log and "the disk is full" in log
    assert json.loads((run / "history.json").read_text())  # the epochs are on record


def test_a_runs_folder_inside_the_dataset_is_not_a_class(tmp_path, capsys):
    data = make_dataset(tmp_path / "data", classes=("a", "b"), per_class=6, layout="flat")
    for _ in range(2):  # the second run scans a dataset that holds the first run's folder
        assert main(["train", str(data), "--output", str(data / "runs"), *TRAIN]) == 0
    assert len(run_folders(data / "runs")) == 2 and "Class folder" not in capsys.readouterr().err


def test_unfinished_run_folders_and_temporary_files_of_killed_writes_are_cleared(tmp_path):
    from flowerstudio.core.runs import folders

    root = tmp_path / "runs"
    started = root / "20260101-000000-x"  # killed before its first epoch
    started.mkdir(parents=True)
    for name in ("config.json", "split.json", "train.log"):
        (started / name).write_text("{}")
    finished = root / "20260101-000001-x"
    finished.mkdir()
    (finished / "config.json").write_text("{}")
    (finished / "best.safetensors").write_bytes(b"a model")
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True).stdout.strip()
    (finished / f".best.safetensors.{dead}.abc123.tmp").write_bytes(b"half a model")
    (finished / f".best.safetensors.{os.getpid()}.def456.tmp").write_bytes(b"being written now")
    in_use = root / "20260101-000002-x"
    in_use.mkdir()
    (in_use / "config.json").write_text("{}")
    lock = folders.hold(in_use)  # a stage is starting there right now
    new = folders.new_run_dir(root, "x")
    lock.release()
    assert not started.exists() and in_use.exists() and new.is_dir()
    assert sorted(p.name for p in finished.iterdir()) == [".best.safetensors.%d.def456.tmp" % os.getpid(),
                                                          "best.safetensors", "config.json"]


def test_a_killed_sort_leaves_no_part_file_behind_after_the_next_sort(tmp_path):
    from types import SimpleNamespace

    from flowerstudio.core.photos.sorting import sort_into

    photo = tmp_path / "in" / "p.jpg"
    photo.parent.mkdir()
    photo.write_bytes(b"a photo")
    (tmp_path / "out" / "rose").mkdir(parents=True)
    litter = tmp_path / "out" / "rose" / ".sorting.999999999.xyz.part"
    litter.write_bytes(b"half a copy")
    sort_into([SimpleNamespace(path=str(photo), name="rose", confidence=0.9)], tmp_path / "out")
    assert not litter.exists() and (tmp_path / "out" / "rose" / "p.jpg").read_bytes() == b"a photo"


@pytest.mark.parametrize("damage, message", [
    ("history.json", "history.json is damaged"), ("config.json", "config.json are damaged"),
    ("split.json", "split.json is not valid JSON"), ("last_state.pt", "last_state.pt is damaged"),
])
def test_a_damaged_run_folder_is_named_in_one_line(trained_run, tmp_path, capsys, damage, message):
    run = Path(shutil.copytree(trained_run.run_dir, tmp_path / "run"))
    (run / damage).write_bytes(b"\x00garbage{")
    command = ["resume", str(run)] if damage != "split.json" else ["retrain", str(run)]
    assert main(command) == 2
    err = _err(capsys)
    assert err.startswith("error:") and message in err and err.count("\n") == 1


def test_progress_is_printed_as_lines_when_the_output_is_no_terminal(capsys, monkeypatch):
    from flowerstudio.cli import report
    from flowerstudio.core.foundation.events import PhaseStarted, Progress

    clock = iter(range(0, 1000, 3))
    monkeypatch.setattr(report.time, "monotonic", lambda: float(next(clock)))
    reporter = report.TqdmReporter(terminal=False)
    reporter(PhaseStarted("extract", 600))
    for done in range(0, 600, 50):
        reporter(Progress("extract", done, 600, eta=120.0))
    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("extract:")]
    # One line every 5 s at most: the clock moves 3 s a call, so every other progress event is printed.
    assert lines[0] == "extract: 50/600 (8 %), 2 min 0 s left" and len(lines) == 6


def test_sigterm_stops_training_like_the_stop_button(tiny_data, tmp_path):
    """SIGTERM: the stage stops after the batch, the log and the best model are written, exit status 130."""
    runs = tmp_path / "runs"
    proc = subprocess.Popen([sys.executable, "-m", "flowerstudio", "train", str(tiny_data), "--output", str(runs),
                             "--input-size", "64", "--epochs", "500", "--batch-size", "8", "--no-feature-cache"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    lines = []
    for line in proc.stdout:
        lines.append(line)
        if line.startswith("epoch 1:"):  # a best model is on disk
            proc.send_signal(signal.SIGTERM)
            break
    out = "".join(lines) + proc.stdout.read()
    assert proc.wait(timeout=120) == 130, out
    assert "stopping after this batch (SIGTERM)" in out and "cancelled: best validation accuracy" in out
    (run,) = run_folders(runs)
    assert (run / "best.safetensors").is_file() and "Training stopped" in (run / "train.log").read_text()


def test_a_disk_error_reads_as_what_happened_and_what_to_do():
    message = describe(OSError(errno.ENAMETOOLONG, "File name too long", "/photos/" + "x" * 300))
    assert "the name is too long for this disk" in message and "shorter" in message
    assert "no permission" in describe(DiskError("/srv/runs", OSError(errno.EACCES, "Permission denied")))
