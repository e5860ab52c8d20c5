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
        except Cancelled as stop:  # what was done before the stop comes with it (a stage's best model)
            _post(self, Outcome.CANCELLED, stop.partial)
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
            if not self._call_handler("error", message, details):
                _error_handler(self.title, message, details)  # nobody handles it, or its owner is gone
        else:
            self._call_handler("cancelled", payload)
        self._call_handler("done")

    def _call_handler(self, key: str, *args: Any) -> bool:
        """Call the handler for ``key``; False when there is none, or its owner (a closed dialog) is gone."""
        handler = self.handlers.get(key)
        if handler is None or (self.owner is not None and not shiboken6.isValid(self.owner)):
            return False
        handler(*args)
        return True


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
                if job is None:  # call_on_gui_thread
                    payload()
                else:
                    job._deliver(kind, payload)
            except Exception:  # noqa: BLE001 - one broken handler must not hold up the other jobs
                sys.excepthook(*sys.exc_info())


_dispatcher: Optional[_Dispatcher] = None
# Running jobs: what quitting cancels and waits for.
_LIVE: set[Job] = set()


def _post(job: Job, kind: Any, payload: Any) -> None:
    assert _dispatcher is not None
    _dispatcher.post(job, kind, payload)


def call_on_gui_thread(fn: Callable[[], Any]) -> None:
    """Run ``fn()`` on the GUI thread soon; callable from any thread (the core's warning relay calls it)."""
    global _dispatcher
    if _dispatcher is None:
        if threading.current_thread() is not threading.main_thread():
            return  # no window yet: nothing to show it in
        _dispatcher = _Dispatcher()
    _dispatcher.post(None, "call", fn)


def run_job(fn: Callable, *args: Any, title: str = "", owner: Optional[QObject] = None,
            on_result: Optional[Callable] = None,
            on_error: Optional[Callable[[str, str], None]] = None, on_event: Optional[Callable] = None,
            on_cancelled: Optional[Callable] = None, on_done: Optional[Callable] = None,
            **kwargs: Any) -> Job:
    """Start ``fn(*args, **kwargs)`` on a background thread (call from the GUI thread).

    The handlers run on the GUI thread: ``on_event(ev)`` for each core event,
    then one of ``on_result(value)``, ``on_error(message, details)`` (without it the
    app's error handler shows the error, titled ``title``) or ``on_cancelled(partial)``
    (what the call had done when it was stopped, or None), and last ``on_done()``.
    With an ``owner`` (a dialog, say), the handlers are skipped once the owner has
    been deleted; an error then still reaches the app's error handler.
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
    _LIVE.add(job)
    job._thread.start()
    return job


def running() -> bool:
    """Whether any job is still running (quitting waits for none to be)."""
    return any(job._thread.is_alive() for job in _LIVE)


def cancel_all() -> None:
    """Ask every job to stop at its next check; their handlers still run as they end."""
    for job in _LIVE:
        job.cancel()


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
