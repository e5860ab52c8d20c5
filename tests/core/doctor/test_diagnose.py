"""The dataset doctor on tiny generated datasets with planted mislabels, copies, leaks and odd photos."""
from __future__ import annotations

import csv
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from flowerstudio.cli import main
from flowerstudio.core.photos.lists import add_exclusions, add_keep
from flowerstudio.core.doctor.diagnose import diagnose
from flowerstudio.core.foundation.events import Cancelled, CancelToken, PhaseStarted
from flowerstudio.core.doctor.neighbours import nearest_neighbours
from flowerstudio.core.foundation.vocab import DuplicateKind, Finding, Phase
from imagefactory import make_dataset, write_broken_files
from tinyrun import tiny_config


def _config(root, **kw):
    return tiny_config(root, "", batch_size=16, **kw)


def _resized_copy(src: Path, dest: Path, scale: float = 0.6) -> Path:
    """A copy as a user makes one: shrunk and saved again as JPEG at another quality."""
    img = Image.open(src).convert("RGB")
    img.resize((round(img.width * scale), round(img.height * scale)), Image.Resampling.BILINEAR).save(
        dest, "JPEG", quality=75)
    return dest


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    """Three classes of 12, two photos moved into a wrong folder, one resized copy, a blank frame, bad files."""
    root = make_dataset(tmp_path_factory.mktemp("doctor") / "d", classes=("red", "green", "blue"), per_class=12,
                        layout="flat", size=(96, 96), clutter=3)
    moved = {root / "red" / "from_green.jpg": "green", root / "green" / "from_blue.jpg": "blue"}
    shutil.move(root / "green" / "img_003.jpg", root / "red" / "from_green.jpg")
    shutil.move(root / "blue" / "img_005.jpg", root / "green" / "from_blue.jpg")
    copy = _resized_copy(root / "red" / "img_001.jpg", root / "red" / "copy_of_1.jpg")
    Image.new("RGB", (96, 96), (255, 255, 255)).save(root / "blue" / "blank.jpg")
    write_broken_files(root / "green")
    events: list = []
    report = diagnose(root, _config(root), events.append)
    return root, moved, copy, report, events


def test_planted_mislabels_rank_first_with_their_true_class(planted):
    _, moved, _, report, _ = planted
    top = {Path(i.path): i.suggested for i in report.label_issues[:2]}
    assert top == {path: true for path, true in moved.items()}
    assert all(i.suggested != i.given for i in report.label_issues)
    scores = [i.score for i in report.label_issues]
    assert scores == sorted(scores) and report.probe_accuracy > 0.8


def test_the_resized_copy_is_the_first_exact_duplicate(planted):
    root, _, copy, report, _ = planted
    first = report.duplicates[0]
    assert {first.path_a, first.path_b} == {str(root / "red" / "img_001.jpg"), str(copy)}
    assert first.kind == DuplicateKind.EXACT and first.similarity > 0.8
    assert all(d.kind == DuplicateKind.NEAR for d in report.duplicates[1:])


def test_the_blank_frame_is_the_first_outlier(planted):
    root, _, _, report, _ = planted
    assert report.outliers and report.outliers[0].path == str(root / "blue" / "blank.jpg")
    assert report.outliers[0].label == "blue" and report.outliers[0].score <= -3


def test_typical_photos_of_each_class_are_its_own_and_not_the_odd_ones(planted):
    root, moved, _, report, _ = planted
    assert list(report.typical) == report.classes
    for cls, paths in report.typical.items():
        assert len(paths) == 6 and all(Path(p).parent.name == cls for p in paths)
        assert not {Path(p) for p in paths} & set(moved) and str(root / "blue" / "blank.jpg") not in paths


def test_unreadable_photos_are_left_out_and_listed(planted):
    _, _, _, report, _ = planted
    assert {Path(p).name for p, _ in report.unreadable} == {"empty.jpg", "truncated.jpg", "notes.png"}
    assert report.photos == 3 * 12 + 2  # the copy and the blank frame
    assert not any(Path(i.path).name in ("empty.jpg", "truncated.jpg") for i in report.label_issues)


def test_phases_are_announced(planted):
    *_, events = planted
    phases = [e.phase for e in events if isinstance(e, PhaseStarted)]
    for phase in (Phase.SCAN, Phase.EXTRACT, Phase.NEIGHBOURS, Phase.CROSS_VALIDATE, Phase.COMPARE):
        assert phase in phases


def test_save_writes_the_csvs_ranked_and_a_summary(planted, tmp_path):
    root, moved, copy, report, _ = planted
    files, failed = report.save(tmp_path / "out")
    assert [f.name for f in files] == ["label_issues.csv", "duplicates.csv", "outliers.csv", "summary.json"]
    assert failed == []
    with open(files[0], newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0])[:4] == ["path", "given", "suggested", "score"]
    assert {Path(r["path"]) for r in rows[:2]} == set(moved)
    with open(files[1], newline="") as fh:
        dups = list(csv.DictReader(fh))
    assert dups[0]["kind"] == "exact" and str(copy) in (dups[0]["path_a"], dups[0]["path_b"])
    summary = json.loads(files[3].read_text())
    assert summary["label_issues"] == len(report.label_issues) and summary["photos"] == report.photos
    assert summary["classes"] == ["blue", "green", "red"]  # sorted, as training sorts them


def test_kept_findings_and_excluded_photos_are_not_reported_again(planted, tmp_path):
    root, moved, copy, report, _ = planted
    data = tmp_path / "d"
    shutil.copytree(root, data)
    first = Path(report.label_issues[0].path)
    add_keep(data, Finding.LABEL, first.relative_to(root))
    add_exclusions(data, [copy.relative_to(root)])
    again = diagnose(data, _config(data))
    assert str(data / first.relative_to(root)) not in [i.path for i in again.label_issues]
    assert again.kept == 1 and "1 finding you kept is not listed" in again.summary()
    assert not any("copy_of_1" in d.path_a + d.path_b for d in again.duplicates)


def test_cancel_stops_the_doctor(planted):
    root, *_ = planted
    token = CancelToken()

    def cancel_at_the_neighbour_search(event):
        if isinstance(event, PhaseStarted) and event.phase == Phase.NEIGHBOURS:
            token.cancel()

    with pytest.raises(Cancelled):
        diagnose(root, _config(root), cancel_at_the_neighbour_search, token)


def test_a_copy_across_train_and_validation_is_a_leak(tmp_path):
    root = make_dataset(tmp_path / "d", classes=("red", "green"), per_class=6, size=(96, 96), clutter=3)
    leaked = _resized_copy(root / "train" / "red" / "img_002.jpg", root / "valid" / "red" / "seen_before.jpg")
    report = diagnose(root, _config(root))
    leaks = report.leaks
    assert len(leaks) == 1 and {leaks[0].part_a, leaks[0].part_b} == {"train", "val"}
    assert str(leaked) in (leaks[0].path_a, leaks[0].path_b)
    assert "1 across train and validation/test" in report.summary()


def test_one_class_still_gets_duplicates_and_a_note(tmp_path):
    root = make_dataset(tmp_path / "d", classes=("only",), per_class=8, layout="flat", size=(96, 96), clutter=3)
    _resized_copy(root / "only" / "img_000.jpg", root / "only" / "again.jpg")
    report = diagnose(root, _config(root))
    assert report.label_issues == [] and report.probe_accuracy is None
    assert any("at least two classes" in n for n in report.notes)
    assert report.duplicates[0].kind == DuplicateKind.EXACT


def test_tiny_classes_fewer_photos_than_folds(tmp_path):
    root = make_dataset(tmp_path / "d", classes=("big", "small", "lone"), per_class=8, layout="flat", size=(96, 96), clutter=3)
    for name in sorted(os.listdir(root / "small"))[3:]:
        os.remove(root / "small" / name)
    for name in sorted(os.listdir(root / "lone"))[1:]:
        os.remove(root / "lone" / name)
    shutil.move(root / "big" / "img_000.jpg", root / "small" / "from_big.jpg")
    report = diagnose(root, _config(root))
    assert any("single photo" in n and "lone" in n for n in report.notes)
    assert all(i.given != "lone" for i in report.label_issues)
    assert report.label_issues[0].path == str(root / "small" / "from_big.jpg")


def test_more_than_100_classes(tmp_path):
    classes = [f"c{k}" for k in range(101)]
    root = make_dataset(tmp_path / "d", classes=classes, per_class=2, layout="flat", size=(32, 32))
    report = diagnose(root, _config(root, input_size=32))
    assert len(report.classes) == 101 and report.photos == 202
    assert all(i.given in classes and i.suggested in classes for i in report.label_issues)


def test_a_dataset_the_doctor_cannot_change_is_left_as_it_was(planted):
    root, *_ = planted
    before = {p: p.stat().st_mtime_ns for p in root.rglob("*")}
    diagnose(root, _config(root))
    assert {p: p.stat().st_mtime_ns for p in root.rglob("*")} == before  # reads only: a read-only disk is fine


def test_cli_doctor_prints_a_summary_and_the_files(planted, tmp_path, capsys):
    root, *_ = planted
    out = tmp_path / "report"
    assert main(["doctor", str(root), "--out", str(out), "--input-size", "64", "--batch-size", "16"]) == 0
    text = capsys.readouterr().out
    assert "may be in the wrong class folder (the likeliest first)" in text and str(out / "label_issues.csv") in text
    assert (out / "summary.json").is_file()


def test_cli_doctor_names_a_missing_folder(tmp_path, capsys):
    assert main(["doctor", str(tmp_path / "nowhere")]) == 2
    assert "nowhere" in capsys.readouterr().err


def _unit_rows(n, dim, seed=0):
    rng = np.random.default_rng(seed)
    x = np.abs(rng.standard_normal((n, dim))).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def test_neighbour_search_is_exact_across_block_edges():
    x = _unit_rows(203, 40)
    idx, sim = nearest_neighbours(x, 7, block=32)  # 203 rows: the last block is short
    full = x @ x.T
    np.fill_diagonal(full, -np.inf)
    expected = np.sort(full, axis=1)[:, ::-1][:, :7]
    assert np.allclose(sim, expected, atol=1e-5)
    assert np.allclose(np.take_along_axis(full, idx, 1), sim, atol=1e-5)
    assert not (idx == np.arange(203)[:, None]).any()  # never itself
    assert nearest_neighbours(x[:3], 20)[0].shape == (3, 2)  # k is capped at N - 1


def test_neighbour_search_on_reduced_features_returns_exact_similarities():
    x = _unit_rows(400, 320, seed=1)
    x[200:] = x[:200] + 0.02 * _unit_rows(200, 320, seed=2)  # 200 near-copies
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    idx, sim = nearest_neighbours(x, 5, reduce_above=100)  # projected to 256 dims, then re-ranked
    assert (idx[:200, 0] == np.arange(200, 400)).all() and (idx[200:, 0] == np.arange(200)).all()
    assert np.allclose(sim, np.einsum("nd,nkd->nk", x, x[idx]), atol=1e-5)


def test_the_summary_speaks_plainly_and_counts_in_words():
    """Issue #26: no "probe ... accurate" and no "1 outliers": what the check recognises, counted in words."""
    from flowerstudio.core.doctor.diagnose import DoctorReport
    from flowerstudio.core.doctor.duplicates import Duplicate
    from flowerstudio.core.doctor.outliers import Outlier
    from flowerstudio.core.foundation.vocab import Part

    one = DoctorReport("d", "efficientnet_lite0", ["a"], ["a"], photos=1, probe_accuracy=0.652, seconds=1.0, kept=1,
                       duplicates=[Duplicate("x", "y", 0.99, DuplicateKind.EXACT, False, Part.TRAIN, Part.TRAIN)],
                       outliers=[Outlier("z", "a", -4.0, 0.5, 0.4, Part.TRAIN)])
    text = one.summary()
    assert "recognises 65% of the photos' classes" in text and "probe" not in text and "accurate" not in text
    assert "Checked 1 photo in 1 class" in text and "1 pair of duplicate photos (1 exact copy)" in text
    assert "1 photo unlike all the others" in text and "1 finding you kept is not listed" in text
    assert "1 outliers" not in text and "0 photos may be in the wrong class folder" in text
    two = DoctorReport("d", "efficientnet_lite0", ["a", "b"], ["a", "b"], photos=2, kept=2)
    assert "Checked 2 photos in 2 classes" in two.summary() and "2 findings you kept are not listed" in two.summary()
    assert "recognises" not in two.summary()  # no check, no figure
