"""Undo of a sort takes back exactly what the sort wrote, and nothing the user changed since."""
import os
from types import SimpleNamespace

from flowerstudio.core.photos.sort_log import undo_sort, write_log
from flowerstudio.core.photos.sorting import sort_into
from flowerstudio.core.photos.walk import MARKER


def photos(folder, n):
    folder.mkdir(parents=True)
    out = []
    for i in range(n):
        p = folder / f"p{i}.jpg"
        p.write_bytes(b"photo %d" % i)
        out.append(SimpleNamespace(path=str(p), name="rose" if i % 2 else "tulip", confidence=0.9))
    return out


def test_undo_of_a_copy_removes_the_copies_and_their_new_folders(tmp_path):
    preds = photos(tmp_path / "in", 4)
    dest = tmp_path / "out"
    dest.mkdir()
    (dest / "mine.txt").write_text("the user's")
    log = write_log(sort_into(preds, dest), tmp_path / "log.json")
    assert sorted(os.listdir(dest)) == [MARKER, "mine.txt", "rose", "tulip"]  # the marker: an app-written folder
    result = undo_sort(log)
    assert result.undone == 4 and sorted(os.listdir(dest)) == ["mine.txt"]
    assert not log.exists() and log.with_name("log.undone.json").exists()  # never offered again
    assert all(os.path.exists(p.path) for p in preds)


def test_undo_of_a_move_puts_photos_back_and_leaves_changed_files(tmp_path):
    preds = photos(tmp_path / "in", 4)
    dest = tmp_path / "out"
    summary = sort_into(preds, dest, move=True)
    log = write_log(summary, tmp_path / "log.json")
    changed = summary.placed[0][1]
    with open(changed, "ab") as fh:
        fh.write(b" edited")  # the user touched it since: undo must leave it alone
    result = undo_sort(log)
    assert result.undone == 3 and result.kept == [(changed, "changed since the sort")]
    assert [os.path.exists(p.path) for p in preds] == [False, True, True, True]
    assert os.path.exists(changed)
