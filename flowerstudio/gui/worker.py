"""Run one core function in a background thread and forward its events as Qt signals.

The pattern follows superqt's ``thread_worker`` and Orange's ``TaskState``: a
QObject lives in its own QThread, calls ``fn(*args, callback=..., cancel=token,
**kwargs)`` and re-emits every core event (a frozen dataclass) through a queued
signal, so widgets are only ever touched on the GUI thread.
"""
from __future__ import annotations

import queue
import threading
import time
import traceback
from typing import Any, Callable, Optional

from PySide6.QtCore import QObject, Qt, QThread, Signal, Slot

from flowerstudio.core.events import CancelToken, Cancelled, Progress

# The core modules that bring in torch, torchvision and timm, imported one thread at a time.
HEAVY_MODULES = ("flowerstudio.core.models", "flowerstudio.core.transforms", "flowerstudio.core.predict",
                 "flowerstudio.core.trainer")
_heavy_lock = threading.Lock()
_heavy_done = False


def import_heavy() -> None:
    """Import the torch side of the core; every background job that needs torch calls this first.

    Two threads importing torchvision at the same moment can see it half-initialised
    ("cannot import name 'InterpolationMode' from partially initialized module"): the
    device list, the parameter count and a training run all start at once at start-up.
    """
    global _heavy_done
    if _heavy_done:
        return
    with _heavy_lock:
        if not _heavy_done:
            import importlib

            for name in HEAVY_MODULES:
                importlib.import_module(name)
            _heavy_done = True


# Progress events can arrive thousands of times a second (one per scanned file);
# forwarding them all would flood the GUI event queue, so keep one per interval.
PROGRESS_INTERVAL = 0.05


class _Runner(QObject):
    """The part that lives in the worker thread.

    Results travel through a queue and a signal without arguments. A queued
    signal carrying a Python object needs the GIL while Qt holds its connection
    lock; if the GUI thread is at that moment destroying a QObject (holding the
    GIL and waiting for the same lock) both threads hang. An argument-free
    signal never needs the GIL under that lock.
    """

    posted = Signal()

    def __init__(self, fn: Callable, args: tuple, kwargs: dict, token: CancelToken,
                 pass_callback: bool, pass_cancel: bool) -> None:
        super().__init__()
        self._fn, self._args, self._kwargs = fn, args, kwargs
        self._token = token
        self._pass_callback, self._pass_cancel = pass_callback, pass_cancel
        self._last_progress: dict[str, float] = {}
        self.inbox: "queue.SimpleQueue[tuple[str, Any]]" = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._signalled = False

    def _post(self, kind: str, payload: Any) -> None:
        self.inbox.put((kind, payload))
        with self._lock:
            if self._signalled:
                return  # the GUI has not drained the last batch yet; it will see this one too
            self._signalled = True
        self.posted.emit()

    def take(self) -> list[tuple[str, Any]]:
        """Everything posted so far (GUI thread)."""
        with self._lock:
            self._signalled = False
        items = []
        while True:
            try:
                items.append(self.inbox.get_nowait())
            except queue.Empty:
                return items

    def _callback(self, ev: Any) -> None:
        if isinstance(ev, Progress) and ev.done < ev.total:
            now = time.monotonic()
            if now - self._last_progress.get(ev.phase, 0.0) < PROGRESS_INTERVAL:
                return
            self._last_progress[ev.phase] = now
        self._post("event", ev)

    @Slot()
    def run(self) -> None:
        kwargs = dict(self._kwargs)
        if self._pass_callback:
            kwargs["callback"] = self._callback
        if self._pass_cancel:
            kwargs["cancel"] = self._token
        try:
            result = self._fn(*self._args, **kwargs)
        except Cancelled:
            self._post("cancelled", None)
        except BaseException as exc:  # noqa: BLE001 - any error must reach the user, not kill the thread
            self._post("failed", (_message(exc), traceback.format_exc()))
        else:
            self._post("finished", result)
        finally:
            # End the thread's event loop here, so waiting on it from the GUI
            # thread (at close) returns without needing the GUI loop to run.
            QThread.currentThread().quit()


def _message(exc: BaseException) -> str:
    text = str(exc).strip()
    return text if text else type(exc).__name__


class Task(QObject):
    """A background call of a core function.

    Signals (all delivered on the GUI thread):
      event(obj): each core event, as the engine sent it
      finished(result): the function returned
      failed(message, details): it raised; details is the traceback
      cancelled(): it stopped because of ``cancel()``
      done(): after any of the three above; the thread has ended
    """

    event = Signal(object)
    finished = Signal(object)
    failed = Signal(str, str)
    cancelled = Signal()
    done = Signal()

    def __init__(self, fn: Callable, *args: Any, name: str = "", pass_callback: bool = True,
                 pass_cancel: bool = True, parent: Optional[QObject] = None, **kwargs: Any) -> None:
        super().__init__(parent)
        self.name = name or getattr(fn, "__name__", "task")
        self.token = CancelToken()
        self._thread = QThread()
        self._thread.setObjectName(f"flowerstudio-{self.name}")
        self._runner = _Runner(fn, args, kwargs, self.token, pass_callback, pass_cancel)
        self._runner.moveToThread(self._thread)
        self._thread.started.connect(self._runner.run)
        self._runner.posted.connect(self._drain, Qt.ConnectionType.QueuedConnection)
        self._running = False
        self._outcome: Optional[str] = None

    def start(self) -> "Task":
        self._running = True
        _LIVE.add(self)
        self._thread.start()
        return self

    def cancel(self) -> None:
        """Ask the engine to stop at its next check (it checks every batch)."""
        self.token.cancel()

    @property
    def running(self) -> bool:
        # The thread may have ended before its last queued signal reached us.
        return self._running and not self._thread.isFinished()

    @property
    def outcome(self) -> Optional[str]:
        """'finished', 'failed' or 'cancelled' once done."""
        return self._outcome

    def wait(self, msecs: int = -1) -> bool:
        """Block until the thread ends (used on close). Returns True if it ended."""
        if not self._thread.isRunning():
            return True
        return self._thread.wait() if msecs < 0 else self._thread.wait(msecs)

    def _drain(self) -> None:
        for kind, payload in self._runner.take():
            if self._outcome is not None:
                return
            if kind == "event":
                self.event.emit(payload)
            elif kind == "finished":
                self._on_finished(payload)
            elif kind == "failed":
                self._on_failed(*payload)
            else:
                self._on_cancelled()

    def _end(self, outcome: str) -> None:
        self._outcome = outcome
        self._thread.wait()
        self._running = False
        _LIVE.discard(self)

    def _on_finished(self, result: object) -> None:
        self._end("finished")
        self.finished.emit(result)
        self.done.emit()

    def _on_failed(self, message: str, details: str) -> None:
        self._end("failed")
        self.failed.emit(message, details)
        self.done.emit()

    def _on_cancelled(self) -> None:
        self._end("cancelled")
        self.cancelled.emit()
        self.done.emit()


# Running tasks are kept alive here so a caller that drops its reference
# cannot destroy a QThread that is still running.
_LIVE: set[Task] = set()


def running_tasks() -> list[Task]:
    return [t for t in _LIVE if t.running]


def stop_all(timeout_ms: int = -1) -> None:
    """Cancel every running task and wait for their threads (used at exit)."""
    tasks = running_tasks()
    for t in tasks:
        t.cancel()
    for t in tasks:
        t.wait(timeout_ms)


def is_gui_thread() -> bool:
    return threading.current_thread() is threading.main_thread()
