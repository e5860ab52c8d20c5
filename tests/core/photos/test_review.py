"""Reviewed labels survive a crash, a damaged store is reported and kept, and photos join the dataset."""
import os

from flowerstudio.core.photos.review import ReviewStore, add_to_dataset, training_folders, undo_add
from flowerstudio.core.photos.sort_log import ADD, latest_log


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


def test_reviewed_photos_join_the_training_folders_once_and_can_be_taken_back_after_a_restart(tmp_path, monkeypatch):
    from imagefactory import make_dataset

    from flowerstudio.core.photos.scan import scan_dataset

    monkeypatch.setenv("FLOWERSTUDIO_SORT_LOGS", str(tmp_path / "logs"))
    data = make_dataset(tmp_path / "data", classes=("rose", "tulip"), per_class=4, layout="split")
    new = make_dataset(tmp_path / "new", classes=("x",), per_class=3, layout="flat") / "x"
    photos = sorted(str(p) for p in new.iterdir())
    folders = training_folders(scan_dataset(str(data)))
    assert folders == {"rose": str(data / "train" / "rose"), "tulip": str(data / "train" / "tulip")}
    existing = os.path.join(folders["rose"], os.path.basename(photos[0]))
    open(existing, "wb").write(b"already here")  # same name: must not be overwritten
    store = ReviewStore.open(tmp_path / "labels.jsonl")
    for photo, label in ((photos[0], "rose"), (photos[1], "tulip"), (photos[2], "lily")):
        store.set(photo, label)
    summary, log = add_to_dataset(store, folders)
    assert summary.counts == {"rose": 1, "tulip": 1} and summary.renamed == 2  # both names were taken
    assert summary.errors == [(photos[2], "'lily' is not a class of this dataset")]
    # Said as "into 2 folders in DATA/train", with a line per class, not as a list of every folder's path
    assert summary.summary().splitlines()[:3] == [f"Copied 2 photos into 2 folders in {data / 'train'}",
                                                  "  rose: 1", "  tulip: 1"]
    assert open(existing, "rb").read() == b"already here"
    assert {os.path.dirname(new) for _, new in summary.placed} == set(folders.values())
    assert all(os.path.exists(new) for _, new in summary.placed) and all(os.path.exists(p) for p in photos)

    # Pressed again, after a restart: nothing is copied twice.
    again = ReviewStore.open(tmp_path / "labels.jsonl")
    assert set(again.added) == {photos[0], photos[1]} and set(again.to_add()) == {photos[2]}
    summary2, log2 = add_to_dataset(again, folders)
    assert summary2.placed == [] and log2 is None
    assert sum(1 for _ in (data / "train").rglob("*.jpg")) == 8 + 2

    # Undo works after a restart too, and the photos can then be added again.
    assert latest_log(ADD) == log
    result = undo_add(ReviewStore.open(tmp_path / "labels.jsonl"), log)
    assert result.undone == 2 and os.path.exists(existing)
    assert not any(os.path.exists(new) for _, new in summary.placed) and latest_log(ADD) is None
    assert set(ReviewStore.open(tmp_path / "labels.jsonl").to_add()) == set(photos)


def test_a_photo_whose_copy_is_gone_or_in_another_dataset_can_be_added_again(tmp_path, monkeypatch):
    """As seen in a walk: the dataset was made afresh, and "Every reviewed photo here is in the dataset
    already" refused photos whose copies were gone with the old one."""
    from imagefactory import make_dataset

    from flowerstudio.core.photos.scan import scan_dataset

    monkeypatch.setenv("FLOWERSTUDIO_SORT_LOGS", str(tmp_path / "logs"))
    first = make_dataset(tmp_path / "first", classes=("rose", "tulip"), per_class=4, layout="flat")
    other = make_dataset(tmp_path / "other", classes=("rose", "tulip"), per_class=4, layout="flat")
    photo = str(next((make_dataset(tmp_path / "new", classes=("x",), per_class=1, layout="flat") / "x").iterdir()))
    store = ReviewStore.open(tmp_path / "labels.jsonl")
    store.set(photo, "rose")
    here = training_folders(scan_dataset(str(first)))
    (_, copy), = add_to_dataset(store, here)[0].placed
    assert store.to_add(here) == {}  # in, once
    assert store.to_add(elsewhere := training_folders(scan_dataset(str(other))), only=set()) == {}  # none looked at
    assert store.to_add(elsewhere) == {photo: "rose"}  # another dataset has not got it
    os.remove(copy)  # the user deleted the copy (or made the dataset afresh)
    assert store.to_add(here) == {photo: "rose"} and store.to_add() == {photo: "rose"}
    (_, again), = add_to_dataset(store, here)[0].placed
    assert os.path.exists(again) and store.to_add(here) == {}
