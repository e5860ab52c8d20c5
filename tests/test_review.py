"""Reviewed labels survive a crash, a damaged store is reported and kept, and photos join the dataset."""
import os

from flowerstudio.core.review import ReviewStore, add_to_dataset, training_folders
from flowerstudio.core.sort_undo import undo_sort, write_log


def test_decisions_survive_a_restart_and_can_be_taken_back(tmp_path):
    store = ReviewStore.open(tmp_path / "labels.jsonl")
    store.set("/photos/a.jpg", "rose")
    store.set("/photos/b.jpg", "tulip")
    store.set("/photos/a.jpg", None)  # undo
    again = ReviewStore.open(tmp_path / "labels.jsonl")
    assert again.labels == {"/photos/b.jpg": "tulip"} and not again.problem()


def test_a_damaged_store_is_reported_and_never_rewritten(tmp_path):
    path = tmp_path / "labels.jsonl"
    store = ReviewStore.open(path)
    store.set("/photos/a.jpg", "rose")
    with open(path, "a", encoding="utf-8") as fh:
        fh.write('{"path": "/photos/b.jpg", "lab')  # a crash mid-line
    before = path.read_bytes()
    again = ReviewStore.open(path)
    assert again.labels == {"/photos/a.jpg": "rose"} and "line 2" in again.problem()
    assert path.read_bytes() == before


def test_reviewed_photos_join_the_training_folders_and_can_be_taken_back(tmp_path):
    from imagefactory import make_dataset

    from flowerstudio.core.dataset import scan_dataset

    data = make_dataset(tmp_path / "data", classes=("rose", "tulip"), per_class=4, layout="split")
    new = make_dataset(tmp_path / "new", classes=("x",), per_class=2, layout="flat") / "x"
    photos = sorted(str(p) for p in new.iterdir())
    scan = scan_dataset(str(data))
    folders = training_folders(scan)
    assert folders == {"rose": str(data / "train" / "rose"), "tulip": str(data / "train" / "tulip")}
    existing = os.path.join(folders["rose"], os.path.basename(photos[0]))
    open(existing, "wb").write(b"already here")  # same name: must not be overwritten
    summary = add_to_dataset({photos[0]: "rose", photos[1]: "tulip", "/gone.jpg": "lily"}, folders)
    assert summary.counts == {"rose": 1, "tulip": 1} and summary.renamed == 2  # both names were taken
    assert summary.errors == [("/gone.jpg", "'lily' is not a class of this dataset")]
    assert open(existing, "rb").read() == b"already here"
    assert {os.path.dirname(new) for _, new in summary.placed} == set(folders.values())
    assert all(os.path.exists(new) for _, new in summary.placed) and all(os.path.exists(p) for p in photos)
    undo_sort(write_log(summary, tmp_path / "log.json"))
    assert not any(os.path.exists(new) for _, new in summary.placed) and os.path.exists(existing)
