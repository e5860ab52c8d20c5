from pathlib import Path

from flowerstudio.core.predict import Prediction
from flowerstudio.core.sorting import sort_into


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
