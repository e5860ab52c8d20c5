"""scan_dataset on real folders: both layouts, hidden clutter, broken files, errors, splits."""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from flowerstudio.core.photos.split import ADDED_TO_VAL
from flowerstudio.core.photos.scan import (
    DatasetError,
    DatasetScan,
    Sample,
    load_names,
    natural_key,
    scan_dataset,
)
from flowerstudio.core.foundation.events import CancelToken, Cancelled, PhaseStarted, Progress
from imagefactory import draw_image, make_dataset, write_broken_files


def _rel(scan: DatasetScan, samples) -> list[str]:
    return [os.path.relpath(s.path, scan.root).replace(os.sep, "/") for s in samples]


def test_split_layout_with_test(tmp_path):
    root = make_dataset(tmp_path / "d", classes=("daisy", "rose", "tulip"), per_class=6,
                        with_test=True)
    events = []
    scan = scan_dataset(root, callback=events.append)
    assert scan.layout == "split"
    assert scan.split_dirs == {"train": "train", "val": "valid", "test": "test"}
    assert scan.classes == ["daisy", "rose", "tulip"] == scan.display_names
    assert scan.counts("train") == [6, 6, 6]
    assert scan.counts("val") == [2, 2, 2] and scan.counts("test") == [2, 2, 2]
    assert all(isinstance(s, Sample) and os.path.isfile(s.path) for s in scan.train)
    assert {s.label for s in scan.val} == {0, 1, 2}
    assert all(f"{os.sep}rose{os.sep}" in s.path for s in scan.train if s.label == 1)
    assert scan.unreadable == [] and scan.skipped == []
    assert isinstance(events[0], PhaseStarted) and events[0].total == 30
    assert isinstance(events[-1], Progress) and events[-1].done == events[-1].total == 30
    text = scan.summary()
    assert "3 classes" in text and "18 training" in text


@pytest.mark.parametrize("val_name", ["val", "validation", "VAL", "Valid"])
def test_split_val_folder_names(tmp_path, val_name):
    root = make_dataset(tmp_path / "d")
    os.rename(root / "valid", root / f"tmp_{val_name}")
    os.rename(root / f"tmp_{val_name}", root / val_name)
    scan = scan_dataset(root)
    assert scan.layout == "split" and scan.split_dirs["val"] == val_name
    assert scan.counts("val") == [2, 2]


def test_flat_layout_split_is_stratified_and_deterministic(tmp_path):
    root = make_dataset(tmp_path / "d", classes=("a", "b", "c"), per_class=10, layout="flat")
    scan = scan_dataset(root)
    assert scan.layout == "flat" and scan.split_dirs == {}
    assert scan.counts("train") == [8, 8, 8] and scan.counts("val") == [2, 2, 2]
    again = scan_dataset(root)
    assert _rel(scan, scan.val) == _rel(again, again.val)
    other = scan_dataset(root, seed=7)
    assert other.seed == 7 and _rel(other, other.val) != _rel(scan, scan.val)
    half = scan_dataset(root, val_fraction=0.5)
    assert half.counts("val") == [5, 5, 5]
    assert not set(_rel(scan, scan.train)) & set(_rel(scan, scan.val))


def test_flat_split_small_classes(tmp_path):
    root = make_dataset(tmp_path / "d", classes=("one", "two", "three"), per_class=3, layout="flat")
    for p in list((root / "one").iterdir())[1:]:
        p.unlink()
    for p in list((root / "two").iterdir())[2:]:
        p.unlink()
    scan = scan_dataset(root, val_fraction=0.2)
    assert scan.classes == ["one", "three", "two"]
    assert scan.counts("val") == [0, 1, 1] and scan.counts("train") == [1, 2, 1]


def test_split_file_reuse(tmp_path):
    root = make_dataset(tmp_path / "d", per_class=10, layout="flat")
    split = tmp_path / "split.json"
    first = scan_dataset(root)
    first.save_split(split)
    saved = json.loads(split.read_text())
    assert saved["layout"] == "flat" and saved["seed"] == 42 and saved["val_fraction"] == 0.2
    assert sorted(saved["val"]) == sorted(_rel(first, first.val))
    assert all("/" in p and "\\" not in p for p in saved["train"])

    # A different seed is ignored while the split file exists.
    gone = Path(first.val[0].path)
    gone.unlink()
    draw_image(0, 99).save(root / "daisy" / "new.jpg")
    again = scan_dataset(root, seed=123, split_file=split)
    assert again.seed == 42
    assert "daisy/new.jpg" in _rel(again, again.train)
    assert set(_rel(again, again.val)) == set(saved["val"]) - {saved["val"][0]}
    assert set(_rel(again, again.train)) == set(saved["train"]) | {"daisy/new.jpg"}
    assert again.added == [str(root / "daisy" / "new.jpg")]
    assert any("1 photos added since the run" in n for n in again.split_notes)
    assert any("1 photos of the run's split are gone" in n for n in again.split_notes)
    assert "added since the run" in again.summary()

    # A split file that is asked for must be there: a run never silently draws a new split.
    with pytest.raises(DatasetError, match="none.json"):
        scan_dataset(root, split_file=tmp_path / "none.json")
    assert scan_dataset(root).counts("val") == [2, 2]


def test_a_saved_split_keeps_a_ready_made_layouts_validation_photos(tmp_path):
    """Photos added to valid/ after a run are not used by it: its validation photos stay the same."""
    root = make_dataset(tmp_path / "d", per_class=4, layout="split")
    split = tmp_path / "split.json"
    first = scan_dataset(root)
    first.save_split(split)
    draw_image(1, 7).save(root / "valid" / "daisy" / "late.jpg")
    draw_image(2, 7).save(root / "train" / "daisy" / "late.jpg")
    again = scan_dataset(root, split_file=split)
    assert [s.path for s in again.val] == [s.path for s in first.val]
    assert again.added == [str(root / "train" / "daisy" / "late.jpg")]
    assert (str(root / "valid" / "daisy" / "late.jpg"), ADDED_TO_VAL) in again.skipped


def test_bad_split_file(tmp_path):
    root = make_dataset(tmp_path / "d", layout="flat")
    bad = tmp_path / "split.json"
    bad.write_text("[1, 2]")
    with pytest.raises(DatasetError, match="split.json"):
        scan_dataset(root, split_file=bad)


def test_numeric_natural_sort_and_names_file(tmp_path):
    classes = ("10", "2", "1")
    root = make_dataset(tmp_path / "d", classes=classes, per_class=5,
                        names={"1": "pink primrose", "2": "hard-leaved pocket orchid",
                               "10": "globe thistle", "77": "passion flower"})
    scan = scan_dataset(root)
    assert scan.classes == ["1", "2", "10"]
    assert scan.display_names == ["pink primrose", "hard-leaved pocket orchid", "globe thistle"]
    assert scan.names_file == str(root / "cat_to_name.json")
    assert any("77" in w and "do not exist" in w for w in scan.warnings)
    assert not any(p.endswith("cat_to_name.json") for p, _ in scan.skipped)

    partial = tmp_path / "names.json"
    partial.write_text(json.dumps({"1": "one"}))
    scan = scan_dataset(root, names_file=partial)
    assert scan.display_names == ["one", "2", "10"]
    assert any("without a name" in w and "'10'" in w for w in scan.warnings)


def test_natural_key():
    names = ["a10", "a2", "B1", "a1", "10", "9", "1"]
    assert sorted(names, key=natural_key) == ["1", "9", "10", "a1", "a2", "a10", "B1"]


@pytest.mark.parametrize("content, message", [
    ("{not json", "not valid JSON"),
    ('["a", "b"]', "JSON object"),
    ('{"1": 5}', "must be text"),
])
def test_bad_names_file(tmp_path, content, message):
    names = tmp_path / "my_names.json"
    names.write_text(content)
    with pytest.raises(DatasetError, match=message) as info:
        load_names(names)
    assert "my_names.json" in str(info.value)
    root = make_dataset(tmp_path / "d", layout="flat")
    with pytest.raises(DatasetError, match="my_names.json"):
        scan_dataset(root, names_file=names)


def test_hidden_and_system_entries_are_skipped(tmp_path):
    root = make_dataset(tmp_path / "d", layout="flat")
    for junk in (".ipynb_checkpoints", "__MACOSX", "@eaDir", ".git"):
        (root / junk).mkdir()
        draw_image(0, 0).save(root / junk / "photo.jpg")
    draw_image(0, 0).save(root / "daisy" / "._img_000.jpg")
    (root / "daisy" / ".DS_Store").write_bytes(b"\0\0")
    (root / "rose" / "Thumbs.db").write_bytes(b"\0\0")
    (root / "rose" / "desktop.ini").write_text("[x]")
    (root / "rose" / "notes.txt").write_text("hi")
    (root / "rose" / ".ipynb_checkpoints").mkdir()
    draw_image(1, 0).save(root / "rose" / ".ipynb_checkpoints" / "copy.jpg")
    scan = scan_dataset(root)
    assert scan.classes == ["daisy", "rose"]
    assert sum(scan.counts("train")) + sum(scan.counts("val")) == 12
    names = {Path(p).name: r for p, r in scan.skipped}
    for junk in (".ipynb_checkpoints", "__MACOSX", "@eaDir", ".git", "._img_000.jpg",
                 ".DS_Store", "Thumbs.db", "desktop.ini"):
        assert "hidden or system" in names[junk]
    assert "not an image" in names["notes.txt"]


def test_nested_folders_and_uppercase_extensions(tmp_path):
    root = make_dataset(tmp_path / "d", layout="flat", per_class=5)
    nested = root / "rose" / "2024" / "june"
    nested.mkdir(parents=True)
    draw_image(1, 50).save(nested / "DEEP.JPG", "JPEG")
    draw_image(1, 51).save(root / "rose" / "Upper.PNG", "PNG")
    draw_image(0, 52).save(root / "daisy" / "x.Jpeg", "JPEG")
    scan = scan_dataset(root)
    every = _rel(scan, scan.train + scan.val)
    assert {"rose/2024/june/DEEP.JPG", "rose/Upper.PNG", "daisy/x.Jpeg"} <= set(every)
    assert scan.counts("train")[1] + scan.counts("val")[1] == 7


@pytest.mark.skipif(not hasattr(os, "symlink") or os.name == "nt", reason="needs symlinks")
def test_symlink_loop_does_not_hang(tmp_path):
    root = make_dataset(tmp_path / "d", layout="flat", per_class=5)
    os.symlink(root / "rose", root / "rose" / "loop")
    scan = scan_dataset(root)
    assert scan.counts("train")[1] + scan.counts("val")[1] == 5


def test_broken_files_are_unreadable_not_samples(tmp_path):
    root = make_dataset(tmp_path / "d", per_class=6)
    broken = write_broken_files(root / "train" / "rose")
    scan = scan_dataset(root)
    assert sorted(Path(p).name for p, _ in scan.unreadable) == sorted(b.name for b in broken)
    reasons = dict((Path(p).name, r) for p, r in scan.unreadable)
    assert "empty" in reasons["empty.jpg"] and "truncated" in reasons["truncated.jpg"]
    assert scan.counts("train") == [6, 6]
    assert "3 unreadable" in scan.summary()
    quick = scan_dataset(root, check_images=False)
    assert quick.unreadable == [] and quick.counts("train") == [6, 9]


def test_stray_files_in_split_layout(tmp_path):
    root = make_dataset(tmp_path / "d")
    draw_image(0, 0).save(root / "train" / "loose.jpg")
    draw_image(0, 0).save(root / "stray.jpg")
    (root / "README.txt").write_text("hi")
    (root / "extras").mkdir()
    scan = scan_dataset(root)
    skipped = {Path(p).name for p, _ in scan.skipped}
    assert {"loose.jpg", "stray.jpg", "README.txt", "extras"} <= skipped


def test_class_missing_from_val_is_a_warning(tmp_path):
    root = make_dataset(tmp_path / "d", classes=("a", "b", "c"))
    shutil.rmtree(root / "valid" / "c")
    scan = scan_dataset(root)
    assert scan.counts("val") == [2, 2, 0]
    assert any("no validation" in w and "'c'" in w for w in scan.warnings)


def test_train_without_val_folder_carves_validation(tmp_path):
    root = make_dataset(tmp_path / "d", per_class=10, with_test=True)
    shutil.rmtree(root / "valid")
    scan = scan_dataset(root)
    assert scan.layout == "flat" and "val" not in scan.split_dirs
    assert scan.counts("val") == [2, 2] and scan.counts("test") == [3, 3]
    assert all(p.startswith("train/") for p in scan.split_dict()["val"])


def test_imbalance_and_tiny_class_warnings(tmp_path):
    root = make_dataset(tmp_path / "d", classes=("big", "small"), per_class=15)
    for p in sorted((root / "train" / "small").iterdir())[4:]:
        p.unlink()
    scan = scan_dataset(root)
    assert any("imbalanced" in w and "'big'" in w for w in scan.warnings)
    assert any("fewer than 5" in w and "'small'" in w for w in scan.warnings)
    balanced = scan_dataset(make_dataset(tmp_path / "e", per_class=6))
    assert balanced.warnings == []


def test_errors(tmp_path):
    with pytest.raises(DatasetError, match="not found"):
        scan_dataset(tmp_path / "nope")
    (tmp_path / "file.txt").write_text("x")
    with pytest.raises(DatasetError, match="not a folder"):
        scan_dataset(tmp_path / "file.txt")

    one = make_dataset(tmp_path / "one", classes=("daisy",), layout="flat")
    with pytest.raises(DatasetError, match="at least two class folders.*'daisy'"):
        scan_dataset(one)

    loose = tmp_path / "loose"
    loose.mkdir()
    for i in range(3):
        draw_image(0, i).save(loose / f"{i}.jpg")
    with pytest.raises(DatasetError, match=r"in a folder of its own \(one folder per class\)"):
        scan_dataset(loose)

    empty = make_dataset(tmp_path / "empty", layout="flat")
    (empty / "lily").mkdir()
    with pytest.raises(DatasetError, match="lily.*no images"):
        scan_dataset(empty)

    allbad = make_dataset(tmp_path / "allbad", layout="flat")
    write_broken_files(allbad / "lily")
    with pytest.raises(DatasetError, match="lily.*only unreadable"):
        scan_dataset(allbad)

    extra = make_dataset(tmp_path / "extra")
    (extra / "valid" / "orchid").mkdir()
    draw_image(0, 0).save(extra / "valid" / "orchid" / "x.jpg")
    with pytest.raises(DatasetError, match="orchid") as info:
        scan_dataset(extra)
    assert "valid" in str(info.value)

    with pytest.raises(DatasetError, match="between 0 and 1"):
        scan_dataset(make_dataset(tmp_path / "f", layout="flat"), val_fraction=1.0)


def test_cancel_during_the_scan_stops_it(tmp_path, monkeypatch):
    from flowerstudio.core.photos import scan as dataset

    root = make_dataset(tmp_path / "d", per_class=100, layout="flat", size=(8, 8))
    token, probed = CancelToken(), []
    real_probe = dataset.probe_image

    def probe(path):
        probed.append(path)
        return real_probe(path)

    def callback(event):  # the user presses Stop once the scan is under way
        if isinstance(event, PhaseStarted) and event.phase == "scan":
            token.cancel()

    monkeypatch.setattr(dataset, "probe_image", probe)
    with pytest.raises(Cancelled):
        scan_dataset(root, callback=callback, cancel=token)
    assert 0 < len(probed) < 200  # it stopped part-way, not after checking every photo


def test_many_files_is_quick(tmp_path):
    import time

    root = make_dataset(tmp_path / "d", classes=("a", "b"), per_class=1, layout="flat")
    src = (root / "a" / "img_000.jpg").read_bytes()
    for cls in ("a", "b"):
        for i in range(1, 750):
            (root / cls / f"c{i}.jpg").write_bytes(src)
    start = time.perf_counter()
    scan = scan_dataset(root)
    assert len(scan.train) + len(scan.val) == 1500
    assert time.perf_counter() - start < 3.0


def test_a_folder_that_only_wraps_the_dataset_names_the_inner_folder(tmp_path):
    from flowerstudio.core.photos.scan import WrappedDatasetError, wrapped_dataset

    flat = make_dataset(tmp_path / "a" / "b" / "photos", classes=("x", "y"), per_class=3, layout="flat")
    split = make_dataset(tmp_path / "s" / "flowers", classes=("x", "y"), per_class=3, layout="split")
    shutil.rmtree(split / "valid")  # train/ alone is a dataset too
    (tmp_path / "a" / ".DS_Store").write_bytes(b"")  # clutter is no second folder
    with pytest.raises(WrappedDatasetError, match=r"holds only the folder 'b'; the class folders seem to be in .*photos") as err:
        scan_dataset(tmp_path / "a")
    assert err.value.inner == str(flat)
    assert wrapped_dataset(str(tmp_path / "s")) == str(split)
    # A single class folder of photos, or a folder with photos beside its one sub-folder, wraps nothing.
    assert wrapped_dataset(str(flat)) is None and wrapped_dataset(str(flat / "x")) is None
    make_dataset(tmp_path / "c", classes=("only",), per_class=2, layout="flat")
    (tmp_path / "c" / "loose.jpg").write_bytes((tmp_path / "c" / "only").iterdir().__next__().read_bytes())
    assert wrapped_dataset(str(tmp_path / "c")) is None


def test_class_folders_still_zipped_up_are_named(tmp_path):
    for name in ("cats.zip", "dogs.tar.gz"):
        (tmp_path / name).write_bytes(b"PK")
    with pytest.raises(DatasetError, match=r"It holds 2 archives \('cats\.zip', 'dogs\.tar\.gz'\): unpack them first"):
        scan_dataset(tmp_path)


def test_a_folder_the_app_wrote_inside_the_dataset_is_never_a_class(tmp_path):
    """A runs (or sorted) folder inside the dataset is left out with a note, not called an empty class."""
    from flowerstudio.core.photos.walk import APP_FOLDER, mark_app_folder

    root = make_dataset(tmp_path / "d", per_class=4, layout="flat")
    runs = root / "runs"
    (runs / "20260101-efficientnet").mkdir(parents=True)
    mark_app_folder(runs, "runs")
    scan = scan_dataset(root)
    assert scan.classes == ["daisy", "rose"]
    assert (str(runs), APP_FOLDER) in scan.skipped


def test_links_never_steal_another_class_s_photos_and_loops_end(tmp_path):
    root = make_dataset(tmp_path / "d", classes=("daisy", "rose"), per_class=4, layout="flat")
    (root / "daisy" / "roses-too").symlink_to(root / "rose", target_is_directory=True)
    (root / "rose" / "up").symlink_to(root, target_is_directory=True)
    outside = tmp_path / "more-daisies"
    outside.mkdir()
    draw_image(0, 50).save(outside / "extra.jpg")
    (root / "daisy" / "more").symlink_to(outside, target_is_directory=True)
    scan = scan_dataset(root)
    assert scan.counts("train") + scan.counts("val") != []
    assert sum(scan.counts("train")) + sum(scan.counts("val")) == 9  # 4 + 4, and the one linked from outside
    daisy = {os.path.basename(s.path) for s in scan.train + scan.val if s.label == 0}
    assert "extra.jpg" in daisy and len(daisy) == 5
    reasons = dict(scan.skipped)
    assert "link to another folder of the dataset" in reasons[str(root / "daisy" / "roses-too")]
    assert "link to another folder of the dataset" in reasons[str(root / "rose" / "up")]
