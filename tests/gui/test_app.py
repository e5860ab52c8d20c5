"""Start-up stays light, settings persist, menus and drops route to the right page."""
import subprocess
import sys

from PySide6.QtCore import QByteArray, Qt

from flowerstudio.gui.state import Page


def test_gui_modules_do_not_import_torch():
    code = ("import sys, pkgutil, importlib, flowerstudio.gui as g\n"
            "for m in pkgutil.iter_modules(g.__path__): importlib.import_module('flowerstudio.gui.' + m.name)\n"
            "bad = [n for n in ('torch', 'timm', 'torchvision') if n in sys.modules]\n"
            "print(bad); sys.exit(1 if bad else 0)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_recent_folders_and_geometry_persist(qtbot, window, tiny_dataset, monkeypatch):
    from flowerstudio.gui import settings
    from flowerstudio.gui.main_window import MainWindow

    with qtbot.waitSignal(window.state.scan_changed, timeout=30000):
        window.dataset_page.open_folder(str(tiny_dataset))
    assert settings.recent("datasets")[0] == str(tiny_dataset)
    window.recent_datasets.aboutToShow.emit()
    assert str(tiny_dataset) in [a.text() for a in window.recent_datasets.actions()]
    window.go_to(Page.TRAIN)
    window.close()  # jobs still running (the device list, say) are stopped first, then the window closes
    qtbot.waitUntil(lambda: not window.isVisible(), timeout=60000)
    saved = settings.settings().value("window/geometry")
    assert isinstance(saved, QByteArray) and saved == window.saveGeometry()
    # The offscreen screen (800x600) clamps sizes, so check the saved bytes are what gets restored.
    restored = []
    monkeypatch.setattr(MainWindow, "restoreGeometry", lambda self, g: restored.append(g) or True)
    again = MainWindow()
    qtbot.addWidget(again)
    assert again.current_page() is Page.TRAIN  # the page is remembered by name
    assert restored == [saved]
    assert not again.windowState() & Qt.WindowState.WindowMaximized  # the user's own size is kept


def test_a_first_start_on_a_small_screen_opens_maximised(window):
    # No saved geometry, and the offscreen screen (800x600) is smaller than the 1280x820 the window wants.
    assert window.windowState() & Qt.WindowState.WindowMaximized


def test_training_choices_persist(qtbot, window):
    from flowerstudio.gui.main_window import MainWindow

    opts = window.train_page.options
    opts.epochs.setValue(7)
    opts.aug.hflip.setChecked(False)
    opts.save()
    again = MainWindow()
    qtbot.addWidget(again)
    assert again.train_page.options.epochs.value() == 7
    assert again.train_page.options.aug.hflip.isChecked() is False
    assert again.state.augment.hflip is False  # the shared state starts from the saved switches


def test_drop_image_files_goes_to_predict(qtbot, window, tiny_dataset):
    files = [str(p) for p in sorted((tiny_dataset / "valid" / "rose").glob("*.jpg"))]
    assert window.route(files) is Page.PREDICT
    assert window.stack.currentWidget() is window.predict_page
    qtbot.waitUntil(lambda: len(window.predict_page.pending) == len(files), timeout=30000)
    assert "waiting for a model" in window.predict_page.counts.text()
