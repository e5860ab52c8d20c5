"""The Review page finds planted problems in a dataset and fixes them with one key each, undoably."""
import os
import shutil

from PySide6.QtCore import Qt

from flowerstudio.gui.state import Page


def test_review_finds_a_planted_copy_and_a_mislabelled_photo_and_fixes_them(qtbot, window, tmp_path, messages):
    from imagefactory import make_dataset

    from flowerstudio.core.photos.lists import read_exclusions, read_keeps

    data = make_dataset(tmp_path / "data", classes=("daisy", "rose", "tulip"), per_class=12, layout="split")
    rose = sorted((data / "train" / "rose").glob("*.jpg"))
    shutil.copy(rose[0], data / "valid" / "rose" / "copy_of_rose.jpg")  # a leak: train photo in validation
    wrong = data / "train" / "daisy" / "really_a_tulip.jpg"
    shutil.copy(sorted((data / "train" / "tulip").glob("*.jpg"))[1], wrong)
    with qtbot.waitSignal(window.state.scan_changed, timeout=60000):
        window.dataset_page.open_folder(str(data))
    opts = window.train_page.options
    opts.input_size.setValue(64)  # the shared state carries the backbone and size to the doctor
    page = window.pages[Page.REVIEW]
    window.go_to(Page.REVIEW)
    assert window.sidebar.item(1).text().endswith("Review")
    page.find_btn.click()
    qtbot.waitUntil(lambda: page.report is not None and not page.is_busy(), timeout=180000)
    leaks = [d for d in page.report.duplicates if d.leak]
    assert leaks and {os.path.basename(leaks[0].path_a), os.path.basename(leaks[0].path_b)} >= {"copy_of_rose.jpg"}
    issues = [i.path for i in page.report.label_issues]
    assert str(wrong) in issues[:3]

    # Move the mislabelled photo with one key, then undo it.
    page.tabs.setCurrentWidget(page.labels)
    page.labels.view.setCurrentIndex(page.labels.gallery_model.index(issues.index(str(wrong))))
    assert "really_a_tulip.jpg" in page.labels.text.text()  # which photo it is, by name
    assert "score" not in page.labels.current().subtitle and "%" in page.labels.current().subtitle
    assert "probe" not in page.summary.text() and "recognises" in page.summary.text()
    qtbot.keyClick(page.labels.view, Qt.Key.Key_M)
    qtbot.waitUntil(page.undo_btn.isEnabled, timeout=10000)  # the move is done and can be undone
    assert not wrong.exists()
    assert "Moved really_a_tulip.jpg to train/tulip/." in page.summary.text()  # and where it went
    assert (data / "train" / "tulip" / "really_a_tulip.jpg").exists()
    qtbot.keyClick(page.labels.view, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: wrong.exists(), timeout=10000)
    qtbot.waitUntil(lambda: "Undone: really_a_tulip.jpg is back in train/daisy/." in page.summary.text(), timeout=10000)

    # Exclude the leaked copy: listed in .flowerstudio/exclude.txt, nothing deleted.
    page.tabs.setCurrentWidget(page.duplicates)
    item = page.duplicates.current()
    page.duplicates.buttons["exclude"].click()
    qtbot.waitUntil(lambda: bool(read_exclusions(str(data))), timeout=10000)
    assert os.path.exists(item.path) and not messages.shown

    # Keep a finding by mistake (K), then take it back (Ctrl+Z): the doctor will list it again.
    view = next(v for v in (page.labels, page.outliers, page.duplicates) if v.gallery_model.rowCount())
    page.tabs.setCurrentWidget(view)
    view.view.setCurrentIndex(view.gallery_model.index(0))
    kept = view.current().path
    qtbot.keyClick(view.view, Qt.Key.Key_K)
    qtbot.waitUntil(lambda: bool(read_keeps(str(data))), timeout=10000)
    assert os.path.relpath(kept, data) in {p for k in read_keeps(str(data)) for p in k[1:]}
    qtbot.keyClick(view.view, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: not read_keeps(str(data)) and not page.fixes_running(), timeout=10000)
    assert read_exclusions(str(data)) and "is no longer kept" in page.summary.text()  # only the keep was undone


def test_an_undo_pressed_before_a_fix_comes_back_undoes_that_fix(qtbot, window, tmp_path):
    """Keys are faster than the thread that changes the dataset: K then Ctrl+Z with no event processed
    in between (the fix has not come back) undoes the keep, not the exclusion made before it."""
    from imagefactory import make_dataset

    from flowerstudio.core.photos.lists import read_exclusions, read_keeps

    data = make_dataset(tmp_path / "data", classes=("daisy", "rose", "tulip"), per_class=12, layout="split")
    shutil.copy(sorted((data / "train" / "tulip").glob("*.jpg"))[1], data / "train" / "daisy" / "really_a_tulip.jpg")
    with qtbot.waitSignal(window.state.scan_changed, timeout=60000):
        window.dataset_page.open_folder(str(data))
    window.train_page.options.input_size.setValue(64)
    page = window.pages[Page.REVIEW]
    window.go_to(Page.REVIEW)
    page.find_btn.click()
    qtbot.waitUntil(lambda: page.report is not None and not page.is_busy(), timeout=180000)
    view = next(v for v in (page.labels, page.outliers, page.duplicates) if v.gallery_model.rowCount() >= 2)
    page.tabs.setCurrentWidget(view)
    view.view.setCurrentIndex(view.gallery_model.index(0))
    qtbot.keyClick(view.view, Qt.Key.Key_E)
    view.view.setCurrentIndex(view.gallery_model.index(1))
    kept = view.current().path
    qtbot.keyClick(view.view, Qt.Key.Key_K)  # queued behind the exclusion if that is still running
    qtbot.keyClick(view.view, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: not page.fixes_running(), timeout=10000)
    assert read_exclusions(str(data)), "the exclusion was undone instead of the keep"
    assert os.path.relpath(kept, data) not in {p for k in read_keeps(str(data)) for p in k[1:]}
    assert page.undo_btn.isEnabled() and [d[0] for d in page.done] == ["exclude"]
