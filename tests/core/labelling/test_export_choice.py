"""The photos an export is checked with: spread over the folder, never more than asked."""
from pathlib import Path

from imagefactory import make_dataset

from flowerstudio.core.labelling.export import choose_check_photos


def test_spread_over_the_classes(tmp_path):
    data = make_dataset(tmp_path / "d", classes=tuple("abcd"), per_class=10, layout="flat")
    chosen = choose_check_photos(str(data), n=8)
    assert len(chosen) == len(set(chosen)) == 8
    assert sorted({Path(p).parent.name for p in chosen}) == ["a", "b", "c", "d"]
    assert all(Path(p).is_file() for p in chosen)


def test_small_folders_and_edge_cases(tmp_path):
    data = make_dataset(tmp_path / "d", classes=("a", "b"), per_class=3, layout="flat")
    assert len(choose_check_photos(data)) == 6  # fewer than the default 32: all of them
    assert choose_check_photos(data, n=0) == []
    assert choose_check_photos(tmp_path / "missing") == []
