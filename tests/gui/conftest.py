"""GUI tests: offscreen Qt, settings in a temp folder, dialogs that never block."""
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/imagefactory.py

import pytest  # noqa: E402
from PySide6.QtCore import QSettings  # noqa: E402

_SETTINGS_DIR = tempfile.mkdtemp(prefix="flowerstudio-settings-")
# The feature cache must not grow in the user's cache folder during tests.
os.environ["FLOWERSTUDIO_CACHE_DIR"] = tempfile.mkdtemp(prefix="flowerstudio-features-")
for _fmt in (QSettings.Format.NativeFormat, QSettings.Format.IniFormat):
    QSettings.setPath(_fmt, QSettings.Scope.UserScope, _SETTINGS_DIR)


@pytest.fixture(autouse=True)
def _isolated(qapp, monkeypatch, tmp_path):
    from flowerstudio.gui import app as gui_app
    from flowerstudio.gui import dialogs, settings

    gui_app.configure_plots()
    gui_app.tune_interpreter()
    settings.settings().clear()
    monkeypatch.setattr(dialogs, "NONMODAL_FOR_TESTS", True)
    monkeypatch.setattr(dialogs, "test_answer", True)
    dialogs.shown.clear()
    # Runs must not land in the user's data folder, even via "latest run".
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    yield
    for box in dialogs.shown:
        box.close()
    dialogs.shown.clear()


@pytest.fixture
def window(qtbot, tmp_path):
    from flowerstudio.gui import worker
    from flowerstudio.gui.main_window import MainWindow

    w = MainWindow()
    w.train_page.options.output_dir.setText(str(tmp_path / "runs"))
    w.state.output_dir = str(tmp_path / "runs")
    qtbot.addWidget(w)
    w.show()
    yield w
    worker.stop_all()
    w.thumbs.shutdown()


@pytest.fixture
def tiny_dataset(tmp_path):
    from imagefactory import make_dataset

    return make_dataset(tmp_path / "flowers", classes=("daisy", "rose", "tulip"), per_class=8, layout="split",
                        names={"daisy": "Daisy", "rose": "Red rose", "tulip": "Tulip"})
