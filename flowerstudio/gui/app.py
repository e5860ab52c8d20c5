"""Start the desktop app: ``python main.py`` or the ``flowerstudio-gui`` entry point."""
from __future__ import annotations

import gc
import os
import sys
import threading
from importlib import resources
from typing import Optional, Sequence

from PySide6.QtCore import QCoreApplication, QTimer
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication

from flowerstudio.gui import jobs, settings

_collector = None  # pyqtgraph's GarbageCollector, kept alive for the whole process


def collect_on_gui_thread() -> None:
    """Python's cyclic garbage collector only ever runs on the GUI thread from now on.

    Left automatic, it runs on whichever thread allocates — a training thread included — and a Qt
    object freed there has its C++ destructor run off the GUI thread, which deadlocks or crashes.
    pyqtgraph's GarbageCollector turns automatic collection off and collects from a QTimer instead.
    Library code (torch, timm) also calls ``gc.collect()`` itself, on a job's thread: such a call is
    passed to the GUI thread's next collection instead (tests/gui/test_gui_thread_gc.py deadlocked
    without this, with a plot's markers collected on the job's thread).
    """
    global _collector
    if _collector is None:
        from pyqtgraph.util.garbage_collector import GarbageCollector

        _collector = GarbageCollector(interval=1.0)
        gc.collect = _collect_on_gui_thread_only


_real_collect = gc.collect


def _collect_on_gui_thread_only(generation: int = 2) -> int:
    """gc.collect() for the GUI thread; on any other thread a no-op (the GUI thread's timer collects soon)."""
    if threading.current_thread() is threading.main_thread():
        return _real_collect(generation)
    return 0


def configure_plots() -> None:
    import pyqtgraph as pg

    pg.setConfigOptions(background="w", foreground="#333", antialias=True)


def tune_interpreter() -> None:
    # Background jobs run Python code too; a short GIL switch interval lets the
    # GUI thread get the interpreter back quickly, so the window never stutters.
    sys.setswitchinterval(0.001)


def create_app(argv: Sequence[str] = ()) -> QApplication:
    tune_interpreter()
    QCoreApplication.setOrganizationName(settings.ORG)
    QCoreApplication.setApplicationName(settings.APP)
    app = QApplication.instance() or QApplication(list(argv) or [sys.argv[0]])
    app.setApplicationDisplayName("Flower Studio")
    app.setDesktopFileName("flowerstudio")
    app.setWindowIcon(QIcon(str(resources.files("flowerstudio.gui") / "assets" / "flowerstudio.png")))
    configure_plots()
    collect_on_gui_thread()
    return app


def freeze_what_started() -> None:
    """Once, when torch has loaded (AppState.engine_loaded, at start-up): collect, then leave what the start-up
    made out of later full passes (torch's modules, the window), so pyqtgraph's timer passes stay short."""
    import gc

    gc.collect()
    gc.freeze()


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Show the window; an optional argument is a dataset folder (or .safetensors model) to open."""
    argv = list(sys.argv if argv is None else argv)
    from flowerstudio.gui.preflight import check_display_libraries

    problem = check_display_libraries()
    if problem:
        print(problem, file=sys.stderr)
        return 1
    app = create_app(argv)
    from flowerstudio.gui.main_window import MainWindow

    window = MainWindow()
    window.state.engine_loaded.connect(freeze_what_started)
    window.show()
    paths = [a for a in argv[1:] if not a.startswith("-") and os.path.exists(a)]
    if paths:
        QTimer.singleShot(0, lambda: window.route(paths))
    code = app.exec()
    return finish(code)


def finish(code: int) -> int:
    """After the event loop: a job that outlived the window's bounded wait (a download stuck on the
    network, say) must not make the exit hang or crash in interpreter teardown. Every file the
    engine writes is written atomically, so ending the process here loses nothing."""
    still = jobs.stop_all(timeout=5.0)
    if still:
        print(f"Flower Studio: quitting while still busy with: {', '.join(still)}", file=sys.stderr)
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    return code


if __name__ == "__main__":
    raise SystemExit(main())
