"""Qt objects are destroyed only on the GUI thread, even when a job's library code calls gc.collect()."""
import gc
import threading

from PySide6.QtCore import QObject, Qt


def watch(obj, name, log):
    # The slot records where the C++ destructor ran; it must not hold ``obj`` (that would keep it alive).
    obj.destroyed.connect(lambda *_: log.append((name, threading.current_thread().name)),
                          Qt.ConnectionType.DirectConnection)


def allocate_and_collect():
    """What torch/timm do on a job's thread: allocate a lot, then an explicit full collection."""
    junk = [[i] * 8 for i in range(200_000)]
    gc.collect()
    return len(junk)


def test_automatic_collection_is_off_and_runs_on_the_gui_thread(qapp):
    assert not gc.isenabled()


def test_cyclic_qt_garbage_never_dies_on_a_job_thread(qtbot):
    from flowerstudio.core.foundation.events import EpochMetrics
    from flowerstudio.gui.jobs import Outcome, run_job
    from flowerstudio.gui.widgets.curves import TrainingCurves

    log = []
    # 1. A plot whose markers were removed: an InfiniteLine and its label form a reference cycle.
    curves = TrainingCurves()
    qtbot.addWidget(curves)
    curves.add_epoch(EpochMetrics(1, "frozen", 1.0, 0.5, 1.0, 0.5, 1e-3, 1.0, True))
    curves.add_epoch(EpochMetrics(2, "all", 0.9, 0.6, 0.9, 0.6, 1e-4, 1.0, True))
    for i, (_plot, line) in enumerate(curves._markers):
        watch(line, f"marker{i}", log)
    curves.clear()
    # 2. A window-like tree of Qt objects held only by a Python cycle (as MainWindow <-> DropRouter was).
    parent = QObject()
    child = QObject(parent)
    parent.me = parent
    watch(parent, "parent", log)
    watch(child, "child", log)
    del parent, child, _plot, line

    job = run_job(allocate_and_collect, title="allocating")
    qtbot.waitUntil(lambda: job.outcome is not None, timeout=60000)
    assert job.outcome is Outcome.FINISHED
    gc.collect()
    names = {name for name, _ in log}
    assert {"parent", "child", "marker0"} <= names, log  # they did die...
    assert {thread for _, thread in log} == {threading.main_thread().name}, log  # ...on the GUI thread


def test_a_finished_job_releases_its_arguments_and_handlers(qtbot):
    import weakref

    from flowerstudio.gui.jobs import run_job

    class Big:
        pass

    big = Big()
    ref = weakref.ref(big)
    results = []
    job = run_job(lambda obj: 42, big, title="holding", on_result=results.append)
    del big
    qtbot.waitUntil(lambda: job.outcome is not None, timeout=10000)
    assert results == [42]
    assert ref() is None and not job.handlers  # nothing stays alive through a finished job
