"""The dataset folder's own lists (exclude.txt, keep.txt) and moves with undo, on real folders."""
from __future__ import annotations

import errno
import json
import os

import pytest

from flowerstudio.core.photos.scan import EXCLUDED, scan_dataset
from flowerstudio.core.photos.edits import MoveRecord, move_photo, read_moves, undo
from flowerstudio.core.photos.lists import (
    EditError, add_exclusions, add_keep, read_exclusions, read_keeps, remove_exclusions, remove_keep, state_file,
)
from flowerstudio.core.foundation.vocab import Finding
from imagefactory import make_dataset


@pytest.fixture
def flat(tmp_path):
    return make_dataset(tmp_path / "d", classes=("daisy", "rose"), per_class=5, layout="flat")


def test_excluded_photos_are_skipped_by_the_scan_and_come_back_when_removed(flat):
    photo = flat / "rose" / "img_002.jpg"
    assert add_exclusions(flat, [photo, "daisy/img_000.jpg"]) == {"rose/img_002.jpg", "daisy/img_000.jpg"}
    text = (flat / ".flowerstudio" / "exclude.txt").read_text()
    assert text.startswith("#") and "rose/img_002.jpg\n" in text
    scan = scan_dataset(flat)
    paths = [s.path for s in scan.train + scan.val]
    assert str(photo) not in paths and len(paths) == 8
    assert (str(photo), EXCLUDED) in scan.skipped
    assert "Excluded by you: 2 photos" in scan.summary()
    assert not any(".flowerstudio" in p for p, _ in scan.skipped)  # the app's own folder is not clutter
    assert remove_exclusions(flat, ["rose/img_002.jpg"]) == {"daisy/img_000.jpg"}
    assert len(scan_dataset(flat).train + scan_dataset(flat).val) == 9
    assert photo.is_file()  # nothing is ever deleted


def test_a_hand_edited_exclusion_file_is_read_as_a_person_writes_it(flat):
    file = state_file(flat, "exclude.txt")
    file.parent.mkdir()
    file.write_bytes(b"\xef\xbb\xbf# my notes\r\n\r\nrose\\img_001.jpg\r\n  # indented comment\n./#odd.jpg\n")
    assert read_exclusions(flat) == {"rose/img_001.jpg", "#odd.jpg"}
    # A name that starts with '#' is written so that it does not read back as a comment.
    add_exclusions(flat, ["daisy/#x.jpg", "#top.jpg"])
    assert read_exclusions(flat) == {"rose/img_001.jpg", "#odd.jpg", "daisy/#x.jpg", "#top.jpg"}


def test_paths_outside_the_dataset_and_unlistable_names_are_refused(flat, tmp_path):
    with pytest.raises(EditError, match="not inside the dataset folder"):
        add_exclusions(flat, [tmp_path / "elsewhere.jpg"])
    with pytest.raises(EditError, match="line break"):
        add_exclusions(flat, ["rose/a\nb.jpg"])
    with pytest.raises(EditError, match="tab"):
        add_keep(flat, Finding.LABEL, "rose/a\tb.jpg")
    assert read_exclusions(flat) == set() and read_keeps(flat) == set()


def test_keeps_round_trip_and_pairs_are_unordered(flat):
    add_keep(flat, Finding.LABEL, flat / "rose" / "img_000.jpg")
    add_keep(flat, "duplicate", "rose/img_001.jpg", "daisy/img_001.jpg")
    add_keep(flat, Finding.DUPLICATE, "daisy/img_001.jpg", "rose/img_001.jpg")  # the same pair again
    assert read_keeps(flat) == {(Finding.LABEL, "rose/img_000.jpg"),
                                (Finding.DUPLICATE, "daisy/img_001.jpg", "rose/img_001.jpg")}
    with pytest.raises(ValueError, match="names 2"):
        add_keep(flat, Finding.DUPLICATE, "rose/img_001.jpg")
    # Undo of a keep forgets exactly that finding, the pair in either order.
    assert remove_keep(flat, Finding.DUPLICATE, "rose/img_001.jpg", "daisy/img_001.jpg") == {
        (Finding.LABEL, "rose/img_000.jpg")}
    assert read_keeps(flat) == {(Finding.LABEL, "rose/img_000.jpg")}


def test_move_and_undo_in_a_split_layout_never_overwrite(tmp_path):
    root = make_dataset(tmp_path / "d", classes=("daisy", "rose"), per_class=3)
    photo = root / "valid" / "daisy" / "img_003.jpg"
    taken = root / "valid" / "rose" / "img_003.jpg"
    taken.write_bytes(b"another photo with the same name")
    record = move_photo(root, photo, "rose")
    assert record.dest == str(root / "valid" / "rose" / "img_003_2.jpg")  # same part, unique name
    assert taken.read_bytes() == b"another photo with the same name" and not photo.exists()
    assert read_moves(root) == [record]
    undo(record)
    assert photo.is_file() and not os.path.exists(record.dest) and read_moves(root) == []
    lines = [json.loads(x) for x in state_file(root, "moves.jsonl").read_text().splitlines()]
    assert [x["op"] for x in lines] == ["move", "undo"] and lines[0]["from"] == "valid/daisy/img_003.jpg"


def test_a_move_into_a_class_missing_from_valid_makes_the_folder(tmp_path):
    root = make_dataset(tmp_path / "d", classes=("daisy", "rose"), per_class=6)
    (root / "train" / "tulip").mkdir()
    record = move_photo(root, "valid/rose/img_006.jpg", "tulip")
    assert record.dest == str(root / "valid" / "tulip" / "img_006.jpg")
    with pytest.raises(EditError, match="no class folder 'lily'"):
        move_photo(root, "valid/rose/img_007.jpg", "lily")
    with pytest.raises(EditError, match="already in class 'rose'"):
        move_photo(root, "valid/rose/img_007.jpg", "rose")
    with pytest.raises(EditError, match="not a class folder name"):
        move_photo(root, "valid/rose/img_007.jpg", "../x")
    with pytest.raises(EditError, match="file not found"):
        move_photo(root, "valid/rose/nothing.jpg", "daisy")


def test_undo_refuses_when_the_old_place_is_taken_again(flat):
    record = move_photo(flat, "rose/img_000.jpg", "daisy")
    (flat / "rose" / "img_000.jpg").write_bytes(b"new")
    with pytest.raises(EditError, match="exists again"):
        undo(record)
    assert os.path.isfile(record.dest) and read_moves(flat) == [record]


def test_moves_survive_a_restart_and_a_damaged_log_line(flat):
    first = move_photo(flat, "rose/img_000.jpg", "daisy")
    with open(state_file(flat, "moves.jsonl"), "ab") as fh:
        fh.write(b'{"op": "move", "from": \n')  # a line cut short by a crash
    second = move_photo(flat, "rose/img_001.jpg", "daisy")
    again = read_moves(str(flat))
    assert [(m.source, m.dest) for m in again] == [(first.source, first.dest), (second.source, second.dest)]
    undo(again[0])
    assert read_moves(flat) == [MoveRecord(str(flat), second.source, second.dest, second.when)]


def _read_only_disk(monkeypatch, root):
    """Every change below ``root`` fails as on a read-only disk (root ignores permissions, so no chmod)."""
    def refuse(real):
        def call(*args, **kw):
            if any(str(a).startswith(str(root)) for a in args[:2]):
                raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(args[0]))
            return real(*args, **kw)
        return call
    for name in ("link", "rename", "replace", "mkdir"):
        monkeypatch.setattr(os, name, refuse(getattr(os, name)))


def test_on_a_read_only_disk_moves_and_lists_say_why_and_change_nothing(flat, monkeypatch):
    _read_only_disk(monkeypatch, flat)
    with pytest.raises(EditError, match=r"Cannot move .*img_000\.jpg: Read-only file system"):
        move_photo(flat, "rose/img_000.jpg", "daisy")
    with pytest.raises(EditError, match=r"Cannot write .*exclude\.txt: Read-only file system"):
        add_exclusions(flat, ["rose/img_000.jpg"])
    monkeypatch.undo()
    assert (flat / "rose" / "img_000.jpg").is_file() and not (flat / ".flowerstudio").exists()


def test_a_move_whose_log_cannot_be_written_is_taken_back(flat, monkeypatch):
    log = state_file(flat, "moves.jsonl")
    log.parent.mkdir()
    log.mkdir()  # a folder where the log file should be: opening it fails
    before = sorted(os.listdir(flat / "daisy"))
    with pytest.raises(EditError, match="Cannot write the move log .* stays where it was"):
        move_photo(flat, "rose/img_000.jpg", "daisy")
    assert (flat / "rose" / "img_000.jpg").is_file() and sorted(os.listdir(flat / "daisy")) == before


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root ignores folder permissions")
def test_a_move_out_of_a_read_only_folder_leaves_one_file(flat):
    os.chmod(flat / "rose", 0o555)
    try:
        with pytest.raises(EditError, match="img_000.jpg: Permission denied"):
            move_photo(flat, "rose/img_000.jpg", "daisy")
    finally:
        os.chmod(flat / "rose", 0o755)
    assert (flat / "rose" / "img_000.jpg").is_file() and not (flat / "daisy" / "img_000_2.jpg").exists()


def test_an_excluded_photo_stays_excluded_when_moved_and_when_the_move_is_undone(flat):
    add_exclusions(flat, ["rose/img_001.jpg", "daisy/img_000.jpg"])
    record = move_photo(flat, flat / "rose" / "img_001.jpg", "daisy")
    assert os.path.basename(record.dest) == "img_001_2.jpg"  # daisy has an img_001.jpg of its own
    assert read_exclusions(flat) == {"daisy/img_001_2.jpg", "daisy/img_000.jpg"}
    assert str(record.dest) not in [s.path for s in scan_dataset(flat).train + scan_dataset(flat).val]
    move_photo(flat, flat / "rose" / "img_002.jpg", "daisy")  # a photo that was not excluded stays in
    assert read_exclusions(flat) == {"daisy/img_001_2.jpg", "daisy/img_000.jpg"}
    undo(record)
    assert read_exclusions(flat) == {"rose/img_001.jpg", "daisy/img_000.jpg"}
