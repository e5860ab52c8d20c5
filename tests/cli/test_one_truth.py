"""Issue 22's promise from the command line: a run's validation photos are its own, whatever is added to
the class folders later. ``evaluate`` of the run's model on its dataset, with no other flags, checks exactly
the photos ``split.json`` calls validation, before and after ``retrain``; a run without its split is refused."""
import csv
import json
import shutil
from pathlib import Path

from flowerstudio.cli import main
from imagefactory import make_dataset
from tinyrun import run_folders

TRAIN = ["--input-size", "64", "--epochs", "2", "--batch-size", "8", "--cache-views", "1"]


def evaluated(model: Path, data: Path, out: Path, capsys) -> tuple[set[str], str]:
    assert main(["evaluate", str(model), str(data), "--out", str(out)]) == 0
    said = capsys.readouterr().out
    with open(out / "photos.csv", newline="") as fh:
        return {str(Path(r["path"]).resolve()) for r in csv.DictReader(fh)}, said


def validation_photos(run: Path, data: Path) -> set[str]:
    split = json.loads((run / "split.json").read_text())
    return {str((data / p).resolve()) for p in split["val"]}


def test_evaluate_checks_the_runs_validation_photos_before_and_after_retrain(tmp_path, capsys):
    data = make_dataset(tmp_path / "flowers", classes=("daisy", "rose", "tulip"), per_class=10, layout="flat",
                        size=(48, 48))
    runs = tmp_path / "runs"
    assert main(["train", str(data), "--output", str(runs), *TRAIN]) == 0
    (run,) = run_folders(runs)
    truth = validation_photos(run, data)
    assert len(truth) == 6  # 20 % of each class of 10

    used, said = evaluated(run / "best.safetensors", data, tmp_path / "eval1", capsys)
    assert used == truth and "the run's 6 validation photos" in said

    # The user copies more photos into the class folders: they are new, never validation photos of this run.
    more = make_dataset(tmp_path / "more", classes=("daisy", "rose", "tulip"), per_class=5, layout="flat",
                        size=(48, 48))
    for photo in more.rglob("*.jpg"):
        shutil.copy(photo, data / photo.parent.name / f"added_{photo.name}")
    used, said = evaluated(run / "best.safetensors", data, tmp_path / "eval2", capsys)
    assert used == truth and "the run's 6 validation photos" in said

    assert main(["retrain", str(run)]) == 0
    capsys.readouterr()
    new_run = next(r for r in run_folders(runs) if r != run)
    assert validation_photos(new_run, data) == truth  # the added photos went to training
    used, said = evaluated(new_run / "best.safetensors", data, tmp_path / "eval3", capsys)
    assert used == truth and "the run's 6 validation photos" in said


def test_a_run_without_its_split_is_refused_by_name(tmp_path, capsys):
    data = make_dataset(tmp_path / "flowers", classes=("daisy", "rose"), per_class=8, layout="flat", size=(48, 48))
    runs = tmp_path / "runs"
    assert main(["train", str(data), "--output", str(runs), *TRAIN]) == 0
    (run,) = run_folders(runs)
    (run / "split.json").unlink()
    capsys.readouterr()
    for command in (["retrain", str(run)], ["resume", str(run)]):
        assert main(command) == 2
        err = capsys.readouterr().err
        assert "split.json" in err and "Traceback" not in err
    assert run_folders(runs) == [run]  # nothing was trained on a new split
