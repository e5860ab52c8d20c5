from pathlib import Path

from flowerstudio.core.labelling.predict import Prediction
from flowerstudio.core.photos.sorting import sort_into


def _pred(path, name, conf):
    return Prediction(str(path), 0, name, conf, ((name, conf),))


def _photos(folder, names):
    folder.mkdir(parents=True, exist_ok=True)
    for n in names:
        (folder / n).write_bytes(f"photo {n}".encode())
    return [folder / n for n in names]


def test_copy_never_overwrites_and_keeps_originals(tmp_path):
    a, b, c = _photos(tmp_path / "in", ["x.jpg", "y.jpg", "z.jpg"])
    other = _photos(tmp_path / "in2", ["x.jpg"])[0]
    dest = tmp_path / "out"
    existing = _photos(dest / "rose", ["x.jpg"])[0]
    existing.write_bytes(b"the user's own file")
    summary = sort_into([_pred(a, "rose", 0.9), _pred(other, "rose", 0.8), _pred(b, "tulip", 0.7),
                         _pred(c, "rose", 0.2)], dest, min_confidence=0.6)
    assert existing.read_bytes() == b"the user's own file"
    assert sorted(p.name for p in (dest / "rose").iterdir()) == ["x.jpg", "x_1.jpg", "x_2.jpg"]
    assert (dest / "_uncertain" / "z.jpg").is_file() and (dest / "tulip" / "y.jpg").is_file()
    assert all(p.exists() for p in (a, b, c, other))  # copying keeps every original
    assert summary.counts == {"rose": 2, "tulip": 1, "_uncertain": 1} and summary.renamed == 2
    assert "Copied 4 photos" in summary.summary()


def test_move_only_when_asked(tmp_path):
    a, b = _photos(tmp_path / "in", ["x.jpg", "y.jpg"])
    dest = tmp_path / "out"
    _photos(dest / "rose", ["x.jpg"])
    summary = sort_into([_pred(a, "rose", 0.9), _pred(b, "rose", 0.9)], dest, move=True)
    assert not a.exists() and not b.exists()
    assert (dest / "rose" / "x.jpg").read_bytes() == b"photo x.jpg"  # the earlier file, untouched
    assert (dest / "rose" / "x_1.jpg").read_bytes() == b"photo x.jpg"
    assert summary.moved and "Moved 2" in summary.summary()


def test_unsafe_label_names_and_missing_files(tmp_path):
    a = _photos(tmp_path / "in", ["x.jpg"])[0]
    summary = sort_into([_pred(a, 'AC/DC: "live"?', 0.9), _pred(tmp_path / "gone.jpg", "rose", 0.9)], tmp_path / "o")
    assert Path(tmp_path / "o" / "AC_DC_ _live__" / "x.jpg").is_file()
    assert len(summary.errors) == 1 and "gone.jpg" in summary.errors[0][0]


# -- bad input (#10) ------------------------------------------------------------------------------
import errno  # noqa: E402
import os  # noqa: E402
import shutil  # noqa: E402

import pytest  # noqa: E402


def _no_runaway_links(monkeypatch, limit=20):
    """A move must never make more than one new file per photo: fail (rather than fill a disk) past ``limit``."""
    real_link, calls = os.link, []

    def link(src, dst, *a, **kw):
        calls.append(dst)
        if len(calls) > limit:
            raise RuntimeError(f"{len(calls)} hard links made for a handful of photos")
        return real_link(src, dst, *a, **kw)

    monkeypatch.setattr(os, "link", link)
    return calls


def _undeletable(monkeypatch, folder):
    """os.unlink fails inside ``folder``, as on a read-only share or for a file held open on Windows."""
    real_unlink = os.unlink

    def unlink(path, *a, **kw):
        if os.path.dirname(os.path.abspath(path)) == str(folder):
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real_unlink(path, *a, **kw)

    monkeypatch.setattr(os, "unlink", unlink)


@pytest.mark.parametrize("hard_links", [True, False], ids=["same-filesystem", "other-filesystem"])
def test_move_from_a_folder_whose_files_cannot_be_deleted(tmp_path, monkeypatch, hard_links):
    a, b = _photos(tmp_path / "in", ["x.jpg", "y.jpg"])
    links = _no_runaway_links(monkeypatch)
    if not hard_links:
        monkeypatch.setattr(os, "link", lambda *a, **k: (_ for _ in ()).throw(OSError(errno.EXDEV, "cross-device")))
    _undeletable(monkeypatch, tmp_path / "in")
    summary = sort_into([_pred(a, "rose", 0.9), _pred(b, "tulip", 0.9)], tmp_path / "out", move=True)
    assert a.read_bytes() == b"photo x.jpg" and b.exists()  # originals untouched
    assert [p for p in (tmp_path / "out").rglob("*") if p.is_file()] == []  # and nothing new left behind
    assert len(links) <= 2
    assert [p for p, _ in summary.errors] == [str(a), str(b)]
    text = summary.summary()
    assert f"could not move {a}: the original cannot be removed (Permission denied)" in text
    assert "Moved 0 photos" in text


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root ignores folder permissions")
def test_move_from_a_read_only_folder(tmp_path, monkeypatch):
    a = _photos(tmp_path / "in", ["x.jpg"])[0]
    links = _no_runaway_links(monkeypatch)
    os.chmod(tmp_path / "in", 0o555)
    try:
        summary = sort_into([_pred(a, "rose", 0.9)], tmp_path / "out", move=True)
    finally:
        os.chmod(tmp_path / "in", 0o755)
    assert a.exists() and list((tmp_path / "out" / "rose").iterdir()) == [] and len(links) <= 1
    assert "could not move" in summary.summary()


def test_a_copy_cut_short_leaves_no_truncated_photo(tmp_path, monkeypatch):
    a, b = _photos(tmp_path / "in", ["x.jpg", "y.jpg"])
    real_copy = shutil.copyfileobj

    def disk_full(fin, fout, *args):
        if fin.name == str(a):
            fout.write(fin.read(3))
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_copy(fin, fout, *args)

    monkeypatch.setattr(shutil, "copyfileobj", disk_full)
    summary = sort_into([_pred(a, "rose", 0.9), _pred(b, "rose", 0.9)], tmp_path / "out")
    assert sorted(p.name for p in (tmp_path / "out" / "rose").iterdir()) == ["y.jpg"]  # no x.jpg, no temp file
    assert summary.errors == [(str(a), "No space left on device")] and summary.counts == {"rose": 1}


def test_class_folders_are_distinct_and_valid_everywhere():
    from flowerstudio.core.photos.sorting import UNCERTAIN, folder_names

    labels = ["a/b", "a_b", "_uncertain", "CON", "nul.txt", "Com1", "rose. ", "Rose", "rose", "..", "", " x",
              "é" * 300]
    folders = folder_names(labels)
    assert len({f.casefold() for f in folders} | {UNCERTAIN}) == len(labels) + 1  # distinct, even ignoring case
    assert folders[1] == "a_b" and folders[0] != "a_b"  # a valid name keeps it; the changed one yields
    for f in folders:
        stem = f.split(".")[0].upper()
        assert stem not in {"CON", "PRN", "AUX", "NUL", "COM1", "LPT1"}, f
        assert f and f == f.strip(" ") and not f.endswith(".") and not f.startswith(".") and "/" not in f, f
        assert len(f.encode()) < 255, f


def test_sorting_keeps_classes_apart(tmp_path):
    a, b, c = _photos(tmp_path / "in", ["x.jpg", "y.jpg", "z.jpg"])
    sort_into([_pred(a, "a/b", 0.9), _pred(b, "a_b", 0.9), _pred(c, "_uncertain", 0.9)], tmp_path / "out",
              names=["a/b", "a_b", "_uncertain"])
    assert (tmp_path / "out" / "a_b" / "y.jpg").is_file()
    assert len([p for p in (tmp_path / "out").iterdir() if p.is_dir()]) == 3 and not (tmp_path / "out" / "_uncertain").exists()
