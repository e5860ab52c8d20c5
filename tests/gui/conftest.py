"""GUI tests: offscreen Qt, settings in a temp folder, message boxes recorded instead of shown."""
import os
import sys
import tempfile
from dataclasses import dataclass
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


@dataclass
class Shown:
    """A message box the app would have shown."""

    kind: str  # "error" or "info"
    title: str
    text: str
    details: str = ""


class Messages:
    """Replaces ``flowerstudio.gui.messages``: records boxes; ``answer`` is what ``ask`` returns."""

    def __init__(self):
        self.shown: list[Shown] = []
        self.answer = True
        self.asked: list[str] = []

    def show_error(self, _parent, title, message, details=""):
        self.shown.append(Shown("error", title, message, details))

    def show_info(self, _parent, title, message, details="", informative=""):
        self.shown.append(Shown("info", title, message, details))

    def ask(self, _parent, title, question, yes="Yes", no="No"):
        self.asked.append(question)
        return self.answer


@pytest.fixture(scope="session", autouse=True)
def _gui_thread_collector(qapp):
    """As in the app: Python's cyclic collector runs only on the GUI thread."""
    from flowerstudio.gui import app as gui_app

    gui_app.collect_on_gui_thread()


@pytest.fixture(autouse=True)
def messages(qapp, monkeypatch, tmp_path):
    from flowerstudio.gui import app as gui_app
    from flowerstudio.gui import messages as real
    from flowerstudio.gui import settings

    gui_app.configure_plots()
    gui_app.tune_interpreter()
    settings.settings().clear()
    fake = Messages()
    for name in ("show_error", "show_info", "ask"):
        monkeypatch.setattr(real, name, getattr(fake, name))
    # Runs must not land in the user's data folder, even via "latest run".
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    # Each test's own undo logs: "Undo last sort" offers only what this test sorted.
    monkeypatch.setenv("FLOWERSTUDIO_SORT_LOGS", str(tmp_path / "sort-logs"))
    return fake


@pytest.fixture
def window(qtbot, tmp_path):
    from flowerstudio.gui import jobs
    from flowerstudio.gui.main_window import MainWindow

    w = MainWindow()
    w.train_page.options.output_dir.setText(str(tmp_path / "runs"))  # app state follows the field
    qtbot.addWidget(w)
    w.show()
    yield w
    assert jobs.stop_all(30) == [], "a background job did not stop"
    w.thumbs.shutdown()


@pytest.fixture
def tiny_dataset(tmp_path):
    from imagefactory import make_dataset

    return make_dataset(tmp_path / "flowers", classes=("daisy", "rose", "tulip"), per_class=8, layout="split",
                        names={"daisy": "Daisy", "rose": "Red rose", "tulip": "Tulip"})
