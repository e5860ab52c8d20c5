"""The pages wired together: the Check page after training, the learning-rate finder and server export
on the Train page, the heat map on the Predict page."""
import json
import os

import pytest
from helpers import scan, tiny_setup
from PySide6.QtCore import QItemSelectionModel

from flowerstudio.gui.state import Page


def test_check_page_evaluates_the_freshly_trained_model(qtbot, window, tiny_dataset, messages):
    assert window.sidebar.count() == len(Page) == 5 and "Check" in window.sidebar.item(4).text()
    assert window.stack.widget(4) is window.pages[Page.CHECK]
    scan(qtbot, window, tiny_dataset)
    page = window.train_page
    tiny_setup(window)
    with qtbot.waitSignal(page.training_done, timeout=60000, raising=False) as blocker:
        page.train_btn.click()
        assert not page.options.lr_find_btn.isEnabled() and not page.server_btn.isEnabled()
    assert blocker.signal_triggered, page.log.toPlainText() + "\n".join(
        b.text + b.details for b in messages.shown)
    result = blocker.args[0]
    assert page.run_dir == result.run_dir  # from the RunStarted event
    qtbot.waitUntil(lambda: page.advice is not None, timeout=60000)  # the next step the core plans
    assert page.options.lr_find_btn.isEnabled() and page.options.ft_lr_find_btn.isEnabled()

    check = window.pages[Page.CHECK]
    window.go_to(Page.CHECK)
    assert window.stack.currentWidget() is check
    assert check.model_edit.text() == result.best_path
    assert os.path.samefile(check.data_edit.text(), tiny_dataset)
    assert "3 classes" in check.model_info.text()  # read on the GUI thread, no background job
    with qtbot.waitSignal(check.evaluated, timeout=60000) as done:
        check.eval_btn.click()
    report = done.args[0]
    assert report.total > 0 and "% right" in check.headline.text() and check.tabs.isVisible()
    qtbot.waitUntil(lambda: not check.is_busy(), timeout=10000)

    # The fine-tune finder tests the next step: from the run's best model, with layers unfrozen.
    page.options.depth.setCurrentIndex(page.options.depth.findData("all"))
    page.options.ft_lr_find_btn.click()
    dlg = page.lr_dialog
    assert dlg is not None and dlg.config.resume_from == result.best_path and dlg.config.train_mode == "all"
    assert not page.train_btn.isEnabled()
    dlg.reject()
    qtbot.waitUntil(lambda: page.lr_dialog is None and page.train_btn.isEnabled(), timeout=10000)


def test_lr_finder_button_fills_the_learning_rate(qtbot, window, tiny_dataset, messages):
    scan(qtbot, window, tiny_dataset)
    page = window.train_page
    tiny_setup(window)
    page.lr_finder_steps = 20
    page.options.lr.setValue(0.5)
    page.options.lr_find_btn.click()
    dlg = page.lr_dialog
    assert dlg is not None and dlg.config.train_mode == "frozen" and dlg.config.input_size == 64
    qtbot.waitUntil(lambda: dlg.result is not None and not dlg.task.running, timeout=60000)
    assert not messages.shown
    lr = dlg.suggested_lr
    assert lr is not None and dlg.use_btn.isEnabled()
    dlg.use_btn.click()
    assert page.options.lr.value() == pytest.approx(max(lr, page.options.lr.minimum()), abs=1e-6)
    assert page.lr_dialog is None and page.train_btn.isEnabled()


def test_server_export_button_writes_the_config(qtbot, window, tiny_dataset, tmp_path):
    scan(qtbot, window, tiny_dataset)
    page = window.train_page
    tiny_setup(window)
    from flowerstudio.gui.dialogs.server_export import ServerExportDialog

    page.server_btn.click()
    dlg = page.findChild(ServerExportDialog)
    assert dlg is not None and dlg.config.input_size == 64
    dlg.folder.setText(str(tmp_path / "server"))
    dlg.write_btn.click()
    qtbot.waitUntil(lambda: dlg.config_path is not None, timeout=30000)
    written = json.loads((tmp_path / "server" / "server-config.json").read_text())
    assert written["input_size"] == 64 and written["data_dir"] == "" and written["train_mode"] == "frozen"
    tune = json.loads((tmp_path / "server" / "server-finetune-config.json").read_text())
    assert tune["train_mode"] in ("last_stages", "all") and tune["resume_from"] is None  # "best" is on the command
    assert "--config server-finetune-config.json --resume-from best" in dlg.command.toPlainText()
    dlg.reject()


def test_heatmap_toggle_swaps_the_large_image(qtbot, window, trained_run, tiny_data):
    from flowerstudio.core.model.model_file import read_model_info

    page = window.predict_page
    window.go_to(Page.PREDICT)
    model = str(trained_run.best_path)
    page.load_model(model)
    label = page.model_bar.label.text()
    assert "loading" in label and "3 classes" in label  # from the header, at once
    qtbot.waitUntil(lambda: page.predictor is not None and page.model_path == model, timeout=60000)
    assert page.model_bar.export_btn.isEnabled()
    photo = str(next(p for p in sorted((tiny_data / "test").rglob("*.*")) if p.suffix.lower() in (".jpg", ".png")))
    page.add_paths([photo])
    qtbot.waitUntil(lambda: page.gallery_model.rowCount() == 1 and not page.is_busy(), timeout=60000)
    page.gallery.selectionModel().setCurrentIndex(page.proxy.index(0, 0),
                                                  QItemSelectionModel.SelectionFlag.ClearAndSelect)
    detail = page.detail
    qtbot.waitUntil(lambda: detail.image._photo is not None, timeout=30000)
    photo_pix = detail.shown_pixmap()
    toggle = detail.heatmap
    assert toggle.isEnabled()
    toggle.setChecked(True)
    size = read_model_info(model).input_size
    qtbot.waitUntil(lambda: detail.shown_pixmap() is not photo_pix, timeout=60000)
    overlay = detail.shown_pixmap()
    assert (overlay.width(), overlay.height()) == (size, size)
    toggle.setChecked(False)
    assert detail.shown_pixmap() is photo_pix
