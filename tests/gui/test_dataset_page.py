"""Dataset page: scanning a generated folder shows classes, counts, photos and problems."""
import os

import pytest

from flowerstudio.core.photos.imageio import IMAGE_EXTENSIONS
from flowerstudio.gui.state import Page
from flowerstudio.gui.widgets.gallery_model import PathRole


def views_shown(preview) -> int:
    """Augmented views the preview shows (tiles with a picture)."""
    return sum(1 for t in preview.tiles if t.pixmap() is not None and not t.pixmap().isNull())


def scan(qtbot, window, path):
    """Open ``path`` and wait for the scan to end, well or not (a folder that cannot be used changes no state)."""
    page = window.dataset_page
    page.open_folder(str(path))
    qtbot.waitUntil(lambda: not page.is_busy() and page.task.outcome is not None, timeout=30000)
    return page


def test_scan_shows_classes_and_counts(qtbot, window, tiny_dataset):
    page = scan(qtbot, window, tiny_dataset)
    assert page.table.rowCount() == 3
    names = [page.table.item(r, 0).text() for r in range(3)]
    assert names == ["Daisy", "Red rose", "Tulip"]
    assert [page.table.item(r, 2).text() for r in range(3)] == ["8", "8", "8"]
    assert [page.table.item(r, 3).text() for r in range(3)] == ["2", "2", "2"]
    assert "3 classes" in page.summary.text()
    assert page.chart.names == names and page.chart.totals == [10, 10, 10]
    # The first class is selected and its photos fill the gallery lazily.
    assert page.gallery_model.rowCount() == 10
    path = page.gallery_model.index(0).data(PathRole)
    qtbot.waitUntil(lambda: window.thumbs.get(path) is not None, timeout=10000)
    page.select_class(2)
    assert page.selected_class() == 2
    assert all("tulip" in page.gallery_model.item(r).path for r in range(page.gallery_model.rowCount()))


def test_bad_files_are_listed_with_reasons(qtbot, window, tiny_dataset):
    (tiny_dataset / "train" / "rose" / "broken.jpg").write_bytes(b"not a jpeg at all")
    (tiny_dataset / "train" / "rose" / "notes.txt").write_text("hello")
    page = scan(qtbot, window, tiny_dataset)
    scan_result = window.state.scan
    assert [os.path.basename(p) for p, _ in scan_result.unreadable] == ["broken.jpg"]
    assert "notes.txt" in [os.path.basename(p) for p, _ in scan_result.skipped]
    texts = []
    for i in range(page.problems.topLevelItemCount()):
        top = page.problems.topLevelItem(i)
        texts += [top.child(j).text(0) for j in range(top.childCount())]
    assert any(t.endswith("broken.jpg") for t in texts)
    assert "Problems (" in page.tabs.tabText(page.tabs.indexOf(page.problems))


def test_not_a_dataset_shows_message_not_crash(qtbot, window, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    page = scan(qtbot, window, empty)
    assert "cannot be used" in page.summary.text() and "The folder is empty." in page.summary.text()
    assert "…" not in page.summary.text()  # the whole message, not cut off
    assert window.state.scan is None
    assert not window.train_page.train_btn.isEnabled()


def test_a_bad_folder_never_replaces_the_dataset_that_works(qtbot, window, tmp_path):
    """Opening a folder that cannot be used leaves the good dataset open (Train, Add reviewed and Retrain keep
    working) and says which folder was refused and why; it is neither reopened nor listed as recent."""
    from imagefactory import make_dataset, write_broken_files

    from flowerstudio.gui import settings

    good = make_dataset(tmp_path / "good", classes=("a", "b"), per_class=4, layout="flat")
    write_broken_files(good / "a")
    scan(qtbot, window, good)
    good_scan = window.state.scan
    empty = tmp_path / "empty"
    empty.mkdir()
    page = scan(qtbot, window, empty)
    assert window.state.scan is good_scan and page.table.rowCount() == 2
    assert "empty cannot be used" in page.summary.text() and f"Still using <b>{good}</b>" in page.summary.text()
    assert page.path_edit.text() == str(good)
    assert window.train_page.train_btn.isEnabled()
    assert settings.get("dataset/last_dir", "", str) == str(good)  # the good one is reopened
    assert str(empty) not in settings.recent("datasets")


def test_flat_layout_and_drop_routing(qtbot, window, tmp_path):
    from imagefactory import make_dataset

    root = make_dataset(tmp_path / "flat", classes=("a", "b"), per_class=10, layout="flat")
    with qtbot.waitSignal(window.state.scan_changed, timeout=30000):
        assert window.route([str(root)]) is Page.DATASET
    s = window.state.scan
    assert s.layout == "flat" and len(s.train) + len(s.val) == 20 and s.val


def test_augmentation_preview_follows_switches(qtbot, window, tiny_dataset):
    page = scan(qtbot, window, tiny_dataset)
    window.show_augment_preview()
    preview = page.preview
    qtbot.waitUntil(lambda: views_shown(preview) == 8, timeout=60000)
    opts = window.train_page.options
    first = preview.task
    assert window.state.augment.hflip
    opts.aug.hflip.setChecked(False)
    assert not window.state.augment.hflip
    assert preview.task is not first and views_shown(preview) == 0  # old views are cleared at once
    qtbot.waitUntil(lambda: not preview.task.running, timeout=30000)
    assert views_shown(preview) == 8


def test_a_folder_of_unlabelled_photos_points_to_predict(qtbot, window, tmp_path):
    from imagefactory import make_dataset

    flat = make_dataset(tmp_path / "new", classes=("x",), per_class=5, layout="flat")
    for p in (flat / "x").iterdir():
        p.rename(flat / p.name)
    (flat / "x").rmdir()
    page = scan(qtbot, window, flat)
    assert "These look like unlabelled photos" in page.summary.text()
    assert "one folder per class" in page.summary.text()
    page.summary.linkActivated.emit("predict")
    assert window.current_page() is Page.PREDICT
    qtbot.waitUntil(lambda: len(window.predict_page.pending) == 5, timeout=30000)


@pytest.mark.skipif(".heic" in IMAGE_EXTENSIONS, reason="pillow-heif is installed: HEIC is read")
def test_photos_a_phone_saved_as_heic_are_explained_on_the_page(qtbot, window, tmp_path):
    from imagefactory import make_dataset

    root = make_dataset(tmp_path / "phone", classes=("a", "b"), per_class=6, layout="flat")
    for i in range(3):
        (root / "a" / f"IMG_{i}.HEIC").write_bytes(b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + bytes(200))
    page = scan(qtbot, window, root)
    assert "3 unreadable photos" in page.summary.text()
    assert "3 of the unreadable photos: HEIC photo" in page.summary.text()
    assert "export it as JPEG" in page.summary.text()


def test_a_folder_that_only_wraps_the_dataset_links_to_it(qtbot, window, tmp_path):
    """A zip unpacked into a folder of its own name: the page names the inner folder and opens it."""
    from imagefactory import make_dataset

    inner = make_dataset(tmp_path / "download" / "flowers", classes=("a", "b"), per_class=4, layout="split")
    page = scan(qtbot, window, tmp_path / "download")
    assert "the class folders seem to be in" in page.summary.text() and window.state.scan is None
    with qtbot.waitSignal(window.state.scan_changed, timeout=30000):
        page.summary.linkActivated.emit("inner")
    assert window.state.scan.root == str(inner) and page.path_edit.text() == str(inner)


def test_the_page_speaks_plainly_with_the_technical_words_in_tooltips(qtbot, window, tiny_dataset):
    page = scan(qtbot, window, tiny_dataset)
    assert [page.table.horizontalHeaderItem(c).text() for c in range(5)] == \
        ["Class", "Folder", "Training", "Validation", "Test"]
    assert "never trains on them" in page.table.horizontalHeaderItem(3).toolTip()
    assert {page.gallery_model.item(r).subtitle for r in range(page.gallery_model.rowCount())} == \
        {"training", "validation"}
    tab = page.tabs.indexOf(page.preview)
    assert page.tabs.tabText(tab) == "Training variations" and "(data augmentation)" in page.tabs.tabToolTip(tab)
    assert "training variations" in page.gallery_label.text()
    window.show_augment_preview()
    qtbot.waitUntil(lambda: views_shown(page.preview) == 8, timeout=60000)
    info = page.preview.info.text()
    assert f"At {window.state.input_size} px, for " in info  # the size and the model chosen on the Train page
    assert "backbone" not in info and "input size" not in info
