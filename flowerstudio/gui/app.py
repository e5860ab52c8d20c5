"""Start the desktop app: ``python main.py`` or the ``flowerstudio-gui`` entry point."""
from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Optional, Sequence

from PySide6.QtCore import QCoreApplication, QTimer
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication

from flowerstudio.gui import settings


def icon_path() -> Optional[Path]:
    root = Path(__file__).resolve().parents[2] / "resources"
    for name in ("flowerstudio.png", "flowerstudio.svg"):
        if (root / name).is_file():
            return root / name
    return None


def configure_plots() -> None:
    import pyqtgraph as pg

    pg.setConfigOptions(background="w", foreground="#333", antialias=True)


def tune_interpreter() -> None:
    # Background tasks run Python code too; a short GIL switch interval lets the
    # GUI thread get the interpreter back quickly, so the window never stutters.
    sys.setswitchinterval(0.001)


def freeze_heap() -> None:
    import gc

    gc.collect()
    gc.freeze()


def create_app(argv: Sequence[str] = ()) -> QApplication:
    tune_interpreter()
    QCoreApplication.setOrganizationName(settings.ORG)
    QCoreApplication.setApplicationName(settings.APP)
    app = QApplication.instance() or QApplication(list(argv) or [sys.argv[0]])
    app.setApplicationDisplayName("Flower Studio")
    app.setDesktopFileName("flowerstudio")
    path = icon_path()
    if path is not None:
        app.setWindowIcon(QIcon(str(path)))
    configure_plots()
    return app


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Show the window; an optional argument is a dataset folder (or .safetensors model) to open."""
    argv = list(sys.argv if argv is None else argv)
    app = create_app(argv)
    from flowerstudio.gui.main_window import MainWindow

    window = MainWindow()
    # Once torch and the model catalog are loaded, move those long-lived objects out of
    # the garbage collector's sight, so its full passes stay short on the GUI thread.
    window.train_page.options.catalog_loaded.connect(freeze_heap)
    window.show()
    paths = [a for a in argv[1:] if not a.startswith("-") and os.path.exists(a)]
    if paths:
        QTimer.singleShot(0, lambda: window.drops.route(paths))
    return app.exec()


if __name__ == "__main__":
    raise SystemExit(main())
