"""The CLI as a user runs it: train -> checkpoint -> predict -> evaluate."""
import csv
import json
import subprocess
import sys
from pathlib import Path

from flowerstudio.cli import main
from tinyrun import run_folders


def test_train_predict_evaluate_round_trip(tiny_data, tmp_path, capsys):
    runs = tmp_path / "runs"
    code = main(["train", str(tiny_data), "--input-size", "64", "--epochs", "3", "--batch-size", "8",
                 "--lr", "0.003", "--cache-views", "2", "--output", str(runs)])
    out = capsys.readouterr().out
    assert code == 0
    assert "completed: best validation accuracy" in out
    (run,) = run_folders(runs)
    assert json.loads((run / "config.json").read_text())["epochs"] == 3

    code = main(["train", str(tiny_data), "--unfreeze", "--resume-from", "best", "--output", str(runs),
                 "--epochs", "1", "--lr", "0.0001", "--input-size", "64", "--batch-size", "8"])
    assert code == 0
    assert [r["stage"] for r in json.loads((run / "history.json").read_text())] == ["frozen"] * 3 + ["all"]

    out_csv = tmp_path / "pred.csv"
    sorted_dir = tmp_path / "sorted"
    code = main(["predict", str(run / "best.safetensors"), str(tiny_data / "test"), "--csv", str(out_csv),
                 "--sort-into", str(sorted_dir), "--min-confidence", "0.0"])
    out = capsys.readouterr().out
    assert code == 0 and "6 photos labelled" in out
    rows = list(csv.DictReader(out_csv.open()))
    assert len(rows) == 6 and set(rows[0]) >= {"path", "label", "confidence", "top1", "p1", "top3", "p3"}
    assert {r["label"] for r in rows} <= {"pink primrose", "hard-leaved pocket orchid", "globe thistle"}
    assert sum(1 for _ in sorted_dir.rglob("*.jpg")) == 6
    assert all(Path(r["path"]).exists() for r in rows)  # copied, not moved

    code = main(["evaluate", str(run), str(tiny_data), "--out", str(tmp_path / "eval")])
    out = capsys.readouterr().out
    assert code == 0 and "accuracy" in out and "the run's 6 test photos" in out
    report = json.loads((tmp_path / "eval" / "report.json").read_text())
    assert report["total"] == 6
    assert sum(map(sum, report["confusion"])) == 6

    # Nothing readable to label: an error a script can see, and no "mean confidence 0.0%".
    broken = tmp_path / "broken"
    broken.mkdir()
    for name in ("a.jpg", "b.png"):
        (broken / name).write_bytes(b"not a photo at all")
    code = main(["predict", str(run / "best.safetensors"), str(broken)])
    captured = capsys.readouterr()
    assert code == 1 and "none of the 2 photos could be read" in captured.err
    assert "0 photos labelled, 2 unreadable" in captured.out and "mean confidence" not in captured.out


def test_bad_input_gets_a_message_not_a_traceback(tmp_path, capsys):
    (tmp_path / "only").mkdir()
    assert main(["train", str(tmp_path / "only"), "--output", str(tmp_path / "runs")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and "only" in err and "Traceback" not in err
    assert main(["train", str(tmp_path), "--epochs", "0"]) == 2
    assert "epochs" in capsys.readouterr().err
    (tmp_path / "junk.safetensors").write_bytes(b"junk")
    assert main(["predict", str(tmp_path / "junk.safetensors"), str(tmp_path)]) == 2


def test_module_entry_point_runs():
    out = subprocess.run([sys.executable, "-m", "flowerstudio", "backbones"], capture_output=True, text=True)
    assert out.returncode == 0
    assert "efficientnet_lite0" in out.stdout and "ready offline" in out.stdout


def test_a_bad_dataset_leaves_no_run_folder_behind(tmp_path, capsys):
    from imagefactory import make_dataset

    data = make_dataset(tmp_path / "data", classes=("a",), per_class=3, layout="flat")
    assert main(["train", str(data), "--output", str(tmp_path / "runs")]) == 2
    assert "at least two class folders" in capsys.readouterr().err
    assert not (tmp_path / "runs").exists() or not run_folders(tmp_path / "runs")


def test_many_photos_skipped_for_one_reason_print_a_few_lines_not_one_each(capsys):
    """A folder of iPhone photos: three lines per reason, then a count; another reason is listed too."""
    from flowerstudio.cli import TqdmReporter
    from flowerstudio.core.foundation.events import BadImage

    report = TqdmReporter()
    for i in range(50):
        report(BadImage(f"/photos/IMG_{i}.HEIC", "HEIC photo, which ..."))
    report(BadImage("/photos/broken.jpg", "truncated or corrupt image data"))
    err = capsys.readouterr().err
    assert err.count("HEIC photo") == 3 and "IMG_2.HEIC" in err and "IMG_3.HEIC" not in err
    assert "counted, not listed" in err and "broken.jpg: truncated" in err
    assert report.bad == 51


def test_output_dir_is_accepted_as_the_config_field_is_named(tmp_path, capsys):
    code = main(["train", str(tmp_path / "missing"), "--output-dir", str(tmp_path / "runs")])
    err = capsys.readouterr().err
    assert code == 2 and "unrecognized arguments" not in err  # argparse took the flag
    assert "Dataset folder not found" in err and not (tmp_path / "runs").exists()
