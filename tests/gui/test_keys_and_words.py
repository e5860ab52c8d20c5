"""Issue #26, the Predict and Review side: keys you can see, plain words, bad input's rough edges."""
import os
import shutil

import pytest
from PySide6.QtCore import QPointF
from PySide6.QtGui import QFont, QFontMetrics
from PySide6.QtWidgets import QLineEdit

from flowerstudio.gui.state import Page


def load(qtbot, page, path):
    page.load_model(path)
    qtbot.waitUntil(lambda: page.predictor is not None and page.model_path == path and not page.is_busy(),
                    timeout=60000)


# -- keys you can see ------------------------------------------------------------------------------
def test_the_review_bar_shows_each_class_with_its_digit_and_every_action_says_what_it_does(qtbot, window,
                                                                                          trained_run):
    page = window.predict_page
    window.resize(1346, 700)  # a 1366x768 laptop, frame and task bar taken off
    window.go_to(Page.PREDICT)
    assert page.review.legend.isHidden()  # no model, no classes, no keys to show
    load(qtbot, page, str(trained_run.best_path))
    legend = page.review.legend
    names = page.classes()[1]
    assert not legend.isHidden()
    qtbot.waitUntil(lambda: "1 pink primrose" in legend.text(), timeout=5000)  # laid out: room for whole names
    assert legend.text().startswith("Keys: Enter = right")
    for digit, name in enumerate(names, 1):
        assert f"{digit} {name}" in legend.text()
        assert f"{digit}: {name}" in legend.toolTip()
    assert "Del clears" in legend.text() and "Ctrl+Z undoes" in legend.text()
    review = page.review
    for widget in (review.show_box, review.export_btn, review.add_btn, review.undo_add_btn, review.retrain_btn,
                   review.use_retrained_btn, review.counts):
        assert widget.toolTip(), widget


def test_with_more_than_nine_classes_the_legend_says_to_type_and_shortens_names_to_fit(qtbot):
    from flowerstudio.gui.dialogs.shortcuts import KeyLegend, legend_words

    names = [f"class number {i}" for i in range(1, 13)]
    text = legend_words(names)
    assert "9 class number 9" in text and "10 " not in text and "the first letters for the other 3" in text
    assert "or type the first letters" in legend_words(names[:3])
    legend = KeyLegend("keys")
    qtbot.addWidget(legend)
    legend.resize(1200, 20)  # the Predict page on a 1366 px screen
    legend.set_names(["a very long class name indeed"] * 9)
    legend.show()
    assert legend.fontMetrics().horizontalAdvance(legend.text()) <= legend.width()
    assert "1 a very" in legend.text() and "…" in legend.text()  # each name cut on its own, never run together


def test_help_lists_every_key_of_the_app(qtbot, window):
    from flowerstudio.gui.dialogs.shortcuts import ShortcutsDialog

    help_menu = next(a.menu() for a in window.menuBar().actions() if a.text() == "&Help")
    action = next(a for a in help_menu.actions() if a.text() == "&Keyboard shortcuts")
    action.trigger()
    dialog = window.findChild(ShortcutsDialog)
    assert dialog is not None and dialog.isVisible() and dialog.windowTitle() == "Keyboard shortcuts"
    text = dialog.text.text()
    for key, what in [("Ctrl+O", "Open dataset"), ("Ctrl+M", "Open model"), ("F1", "Keyboard shortcuts"),
                      ("Enter", "The prediction is right"), ("1 … 9", "Set the class"), ("Delete", "Not reviewed"),
                      ("M", "Move the photo"), ("E", "Exclude the photo"), ("K", "Keep"), ("Ctrl+Z", "Undo")]:
        assert f"<b>{key}" in text and what in text, (key, what)
    quit_key = next(a for a in window.menuBar().actions()[0].menu().actions() if a.text() == "&Quit").shortcut()
    assert quit_key.isEmpty() or quit_key.toString() in text  # Ctrl+Q where the platform has one (not Windows)
    dialog.close()


# -- plain words -----------------------------------------------------------------------------------
def test_the_model_line_speaks_plainly_and_keeps_the_figures_in_its_tooltip(qtbot, window, trained_run):
    page = window.predict_page
    load(qtbot, page, str(trained_run.best_path))
    line, tip = page.model_bar.label.text(), page.model_bar.label.toolTip()
    assert "confidence&nbsp;figures&nbsp;are" in line and "validation&nbsp;photos&nbsp;right" in line
    for jargon in ("T =", "epoch", "efficientnet", "px"):
        assert jargon not in line.split("<br>", 1)[1]  # after the file's path
    info = page.model_bar.info
    assert ("temperature T = " in tip) == info.calibrated and "efficientnet_lite0" in tip and "64 px" in tip


def test_export_figures_in_plain_decimals():
    from flowerstudio.gui.dialogs.export_model import plain_number

    assert plain_number(1.07e-06) == "0.000001" and plain_number(0.0234) == "0.02" and plain_number(0.0) == "none"


# -- bad input, rough edges ------------------------------------------------------------------------
def test_a_red_model_error_goes_once_a_model_loads_and_a_stale_failure_never_paints_it(qtbot, window, trained_run,
                                                                                      tmp_path, messages, monkeypatch):
    import time

    from flowerstudio.gui import engine
    from flowerstudio.gui.style import ERROR_TEXT

    page, good = window.predict_page, str(trained_run.best_path)
    line = page.model_bar.label
    errors = lambda: [m for m in messages.shown if m.kind == "error"]  # noqa: E731
    cut = tmp_path / "cut.safetensors"  # refused as it is read
    cut.write_bytes(open(good, "rb").read()[:5000])
    page.load_model(str(cut))
    assert ERROR_TEXT in line.text()
    load(qtbot, page, good)
    assert ERROR_TEXT not in line.text() and "Cannot use" not in line.text()

    # A file whose header reads but whose weights do not (slowly): refused in the background.
    doomed = tmp_path / "doomed.safetensors"
    shutil.copy(good, doomed)
    real = engine.load_predictor

    def failing(path, device="auto"):
        if path == str(doomed):
            time.sleep(1.0)
            raise ValueError("the weights cannot be read")
        return real(path, device)

    monkeypatch.setattr(engine, "load_predictor", failing)
    page.load_model(str(doomed))
    qtbot.waitUntil(lambda: ERROR_TEXT in line.text(), timeout=60000)
    assert "Still using" in line.text() and page.model_path == good and len(errors()) == 2
    load(qtbot, page, good)
    assert ERROR_TEXT not in line.text()

    # The failing file replaced by a good one before it fails: its failure is no news, and never shown.
    page.model_bar.load_model(str(doomed))
    page.model_bar.load_model(good)
    qtbot.wait(1500)
    qtbot.waitUntil(lambda: not page.is_busy(), timeout=60000)
    assert ERROR_TEXT not in line.text() and page.model_path == good and len(errors()) == 2


def test_only_wrong_says_why_it_shows_nothing_for_photos_outside_class_folders(qtbot, window, trained_run,
                                                                              tiny_data, tmp_path):
    from flowerstudio.gui.pages.predict_filters import ONLY_WRONG_NONE

    page = window.predict_page
    load(qtbot, page, str(trained_run.best_path))
    loose = tmp_path / "loose"
    loose.mkdir()
    for i, photo in enumerate(sorted((tiny_data / "test").rglob("*.jpg"))[:3]):
        shutil.copy(photo, loose / f"photo{i}.jpg")
    page.add_paths([str(loose)])
    qtbot.waitUntil(lambda: page.gallery_model.rowCount() == 3 and not page.is_busy(), timeout=60000)
    assert ONLY_WRONG_NONE not in page.counts.text()
    page.only_wrong.setChecked(True)
    assert "Showing 0 of 3" in page.counts.text() and ONLY_WRONG_NONE in page.counts.text()
    assert page.only_wrong.toolTip()


def test_the_sort_folder_may_be_a_new_one(qtbot, tmp_path):
    from flowerstudio.gui.pages.predict_output import FolderDialog

    dlg = FolderDialog(None, "Sort into a folder", str(tmp_path))
    qtbot.addWidget(dlg)
    dlg.show()
    name_edit = dlg.findChild(QLineEdit, "fileNameEdit")
    name_edit.setText("sorted photos")
    dlg.accept()
    assert dlg.result() == FolderDialog.DialogCode.Accepted
    assert dlg.chosen == str(tmp_path / "sorted photos") and not os.path.exists(dlg.chosen)  # the sort makes it
    assert len(dlg.windowTitle()) <= 20

    existing = tmp_path / "there"
    existing.mkdir()
    dlg2 = FolderDialog(None, "Sort into a folder", str(tmp_path))
    qtbot.addWidget(dlg2)
    dlg2.show()
    dlg2.findChild(QLineEdit, "fileNameEdit").setText("there")
    dlg2.accept()
    assert dlg2.chosen == str(existing)


def test_no_empty_chart_before_a_photo_is_chosen(qtbot, window):
    """After a restart the side panel has no photo: no probability axes (upside down, 0 to 1)."""
    page = window.predict_page
    window.go_to(Page.PREDICT)
    assert page.detail.bars.isHidden()


@pytest.mark.parametrize("names", [["daisy", "sunflower", "dandelion", "rose", "tulip"],
                                   ["giant white arum lily", "hard-leaved pocket orchid"]])
def test_class_names_beside_charts_are_whole_or_cut_each_on_its_own(qtbot, names):
    from flowerstudio.gui.widgets.class_chart import ClassChart

    chart = ClassChart()
    qtbot.addWidget(chart)
    chart.set_counts(names, {"train": [10] * len(names), "val": [2] * len(names)})
    axis = chart.plot.getAxis("left")
    shown = [label for _, label in axis._tickLevels[0]]
    assert shown == names  # names up to 240 px are never shortened
    fm = QFontMetrics(axis.style.get("tickFont") or QFont())
    assert axis.minimumWidth() >= max(fm.horizontalAdvance(n) for n in names)  # room for the longest
    chart.resize(600, 400)
    chart.show()
    qtbot.waitExposed(chart)
    chart._on_hover(chart.plot.vb.mapViewToScene(QPointF(5, len(names) - 1)))  # the mouse over the last bar
    assert chart.plot.getAxis("left").toolTip() == f"{names[-1]}: 12 photos"
    cut = ClassChart()
    qtbot.addWidget(cut)
    cut.set_counts(["a" * 80, "b" * 80], {"train": [1, 2]})
    labels = [label for _, label in cut.plot.getAxis("left")._tickLevels[0]]
    assert all(label.endswith("…") and label[0] in "ab" and len(set(label[:-1])) == 1 for label in labels)
