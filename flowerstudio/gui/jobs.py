"""One way to run background work: ``run_job(fn, *args, on_result=..., on_event=...)``.

The shape follows superqt's ``create_worker(..., _connect={...})`` and Orange's
``TaskState``: ``fn`` runs on a Python thread, is handed ``callback=`` and
``cancel=`` when its signature takes them, and everything it reports reaches
the GUI thread. An error nobody handles reaches one place (napari's
notification idea), which ``set_error_handler`` sets: no failure goes unseen.

Why jobs are plain Python objects and not QObjects: a job holds its callbacks,
which hold pages; a page holds its job. A QObject in such a cycle becomes
garbage that Python's collector may free on any thread, and a Qt destructor off
the GUI thread deadlocks or crashes. Plain objects in a cycle are harmless, and
the callbacks are dropped as soon as a job ends, so nothing stays alive through
a finished job. One GUI-thread dispatcher delivers for all of them.
"""
from __future__ import annotations

import gc
import inspect
import queue
import sys
import threading
import time
import traceback
from enum import Enum
from typing import Any, Callable, Optional

import shiboken6
from PySide6.QtCore import QObject, Qt, Signal

from flowerstudio.core.foundation.events import CancelToken, Cancelled, Progress

# Progress events can arrive thousands of times a second (one per scanned file);
# forwarding them all would flood the GUI, so keep one per interval per phase.
PROGRESS_INTERVAL = 0.05


class Outcome(str, Enum):
    FINISHED = "finished"
    FAILED = "failed"
    CANCELLED = "cancelled"


ErrorHandler = Callable[[str, str, str], None]  # (title, message, details)


def show_error_box(title: str, message: str, details: str) -> None:
    from flowerstudio.gui import messages

    messages.show_error(None, f"{title} failed", message, details)


_error_handler: ErrorHandler = show_error_box


def set_error_handler(handler: Optional[ErrorHandler]) -> None:
    """Where every unhandled job error is shown (the main window parents the box); None: the default."""
    global _error_handler
    _error_handler = handler or show_error_box


class Job:
    """A background call. ``outcome`` is None while it runs, then an ``Outcome``."""

    def __init__(self, fn: Callable, args: tuple, kwargs: dict, title: str, owner: Optional[QObject]) -> None:
        self.title = title
        self.owner = owner
        self.token = CancelToken()
        self.outcome: Optional[Outcome] = None
        self.exception: Optional[BaseException] = None  # what the call raised, when it failed
        self.handlers: dict[str, Callable] = {}
        self._call: Optional[tuple[Callable, tuple, dict]] = (fn, args, kwargs)
        self._last_progress: dict[str, float] = {}
        self._thread = threading.Thread(target=self._run, name=f"flowerstudio-{title}", daemon=True)

    @property
    def running(self) -> bool:
        return self.outcome is None

    def cancel(self) -> None:
        """Ask the engine to stop at its next check (it checks every batch)."""
        self.token.cancel()

    def wait(self, timeout: Optional[float] = None) -> bool:
        """Block until the thread has ended; True if it did within ``timeout`` seconds."""
        self._thread.join(timeout)
        return not self._thread.is_alive()

    # -- worker thread -------------------------------------------------------------------------
    def _callback(self, ev: Any) -> None:
        if isinstance(ev, Progress) and ev.done < ev.total:
            now = time.monotonic()
            if now - self._last_progress.get(ev.phase, 0.0) < PROGRESS_INTERVAL:
                return
            self._last_progress[ev.phase] = now
        _post(self, "event", ev)

    def _run(self) -> None:
        fn, args, kwargs = self._call
        params = _parameters(fn)
        kwargs = dict(kwargs)
        if "callback" in params:
            kwargs["callback"] = self._callback
        if "cancel" in params:
            kwargs["cancel"] = self.token
        try:
            result = fn(*args, **kwargs)
        except Cancelled:
            _post(self, Outcome.CANCELLED, None)
        except BaseException as exc:  # noqa: BLE001 - any error must reach the user, not kill the thread
            self.exception = exc
            _post(self, Outcome.FAILED, (_message(exc), traceback.format_exc()))
        else:
            _post(self, Outcome.FINISHED, result)

    # -- GUI thread ----------------------------------------------------------------------------
    def _deliver(self, kind: Any, payload: Any) -> None:
        if self.outcome is not None:
            return
        if kind == "event":
            self._call_handler("event", payload)
            return
        self.outcome = kind
        self._thread.join()  # it has posted its last item: the join is immediate
        _LIVE.discard(self)
        try:
            self._finish(kind, payload)
        finally:
            # Release the arguments (a model, thousands of paths) and the handlers (pages).
            self.handlers.clear()
            self._call = self.owner = None

    def _finish(self, kind: Outcome, payload: Any) -> None:
        if kind is Outcome.FINISHED:
            self._call_handler("result", payload)
        elif kind is Outcome.FAILED:
            message, details = payload
            if "error" in self.handlers or (self.owner is not None and not shiboken6.isValid(self.owner)):
                self._call_handler("error", message, details)
            else:
                _error_handler(self.title, message, details)
        else:
            self._call_handler("cancelled")
        self._call_handler("done")

    def _call_handler(self, key: str, *args: Any) -> None:
        handler = self.handlers.get(key)
        # A dialog closed while its job ran is gone: nobody is left to show the outcome to.
        if handler is not None and (self.owner is None or shiboken6.isValid(self.owner)):
            handler(*args)


def _parameters(fn: Callable) -> set[str]:
    try:
        return set(inspect.signature(fn).parameters)
    except (TypeError, ValueError):
        return set()


def _message(exc: BaseException) -> str:
    text = str(exc).strip()
    return text if text else type(exc).__name__


class _Dispatcher(QObject):
    """Lives on the GUI thread; wakes it when jobs have posted something.

    The signal carries no arguments on purpose: a queued signal with a Python
    object needs the GIL while Qt holds its connection lock, and if the GUI thread
    is destroying a QObject at that moment (holding the GIL, waiting for the lock)
    both threads hang. An argument-free signal never needs the GIL there.
    """

    posted = Signal()

    def __init__(self) -> None:
        super().__init__()
        self.inbox: "queue.SimpleQueue[tuple[Job, Any, Any]]" = queue.SimpleQueue()
        self.lock = threading.Lock()
        self.signalled = False
        self.posted.connect(self.drain, Qt.ConnectionType.QueuedConnection)

    def post(self, job: Job, kind: Any, payload: Any) -> None:
        self.inbox.put((job, kind, payload))
        with self.lock:
            if self.signalled:
                return  # the GUI has not drained the last batch yet; it will see this one too
            self.signalled = True
        self.posted.emit()

    def drain(self) -> None:
        with self.lock:
            self.signalled = False
        while True:
            try:
                job, kind, payload = self.inbox.get_nowait()
            except queue.Empty:
                return
            try:
                job._deliver(kind, payload)
            except Exception:  # noqa: BLE001 - one broken handler must not hold up the other jobs
                sys.excepthook(*sys.exc_info())


_dispatcher: Optional[_Dispatcher] = None
# Running jobs: what quitting cancels and waits for.
_LIVE: set[Job] = set()


def _post(job: Job, kind: Any, payload: Any) -> None:
    assert _dispatcher is not None
    _dispatcher.post(job, kind, payload)


def run_job(fn: Callable, *args: Any, title: str = "", owner: Optional[QObject] = None,
            on_result: Optional[Callable] = None,
            on_error: Optional[Callable[[str, str], None]] = None, on_event: Optional[Callable] = None,
            on_cancelled: Optional[Callable] = None, on_done: Optional[Callable] = None,
            **kwargs: Any) -> Job:
    """Start ``fn(*args, **kwargs)`` on a background thread (call from the GUI thread).

    The handlers run on the GUI thread: ``on_event(ev)`` for each core event,
    then one of ``on_result(value)``, ``on_error(message, details)`` (without it the
    app's error handler shows the error, titled ``title``) or ``on_cancelled()``,
    and last ``on_done()``. With an ``owner`` (a dialog, say), the handlers are
    skipped once the owner has been deleted.
    """
    global _dispatcher
    if threading.current_thread() is not threading.main_thread():
        raise RuntimeError("run_job must be called from the GUI thread")
    if _dispatcher is None:
        _dispatcher = _Dispatcher()
    job = Job(fn, args, kwargs, title or getattr(fn, "__name__", "job"), owner)
    handlers = {"result": on_result, "error": on_error, "event": on_event, "cancelled": on_cancelled,
                "done": on_done}
    job.handlers = {k: v for k, v in handlers.items() if v is not None}
    collect_garbage()
    _LIVE.add(job)
    job._thread.start()
    return job


def collect_garbage() -> None:
    """Anything Qt that is cyclic garbage dies here, on the GUI thread, not in a ``gc.collect()`` that
    library code (torch, timm) may run on a job's thread.

    What survives is frozen: a full pass over a heap with torch loaded takes ~200 ms, a pass over what
    is new since the last freeze a few. The price: a cycle of objects that were alive at a freeze and
    die later is never collected (a small leak, never a destructor on the wrong thread).
    """
    gc.collect()
    gc.freeze()


def stop_all(timeout: float = 10.0) -> list[str]:
    """Cancel every job and wait up to ``timeout`` seconds in all (the window is closing).

    Their handlers are dropped: the pages they would update are going away. Returns the
    titles of jobs whose threads are still running after the wait (they stay listed).
    """
    for job in _LIVE:
        job.cancel()
    deadline = time.monotonic() + timeout
    still = []
    for job in list(_LIVE):
        job.handlers.clear()
        if job.outcome is None:
            job.outcome = Outcome.CANCELLED
        if job.wait(max(0.0, deadline - time.monotonic())):
            _LIVE.discard(job)
        else:
            still.append(job.title)
    return still
