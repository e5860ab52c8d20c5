"""Warnings the core reports in passing (an engine falling back, a cache that cannot be written) reach the
user: the core logs them through ``logging``; one handler turns each record into a ``Log`` event.

After napari's NotificationManager: the event goes to the long call running on that thread (inside
``reporting_to``: a training stage, a prediction), so the GUI shows it with the job and train.log keeps
it; a record logged anywhere else goes to the subscribers (the GUI's status bar). Nothing is dropped
and nobody has to remember to connect a handler. Qt-free: subscribers may be called on any thread.
"""
from __future__ import annotations

import contextlib
import logging
import threading
from typing import Callable, Iterator

from flowerstudio.core.foundation.events import Callback, Log
from flowerstudio.core.foundation.vocab import LogLevel

_local = threading.local()
_subscribers: list[Callable[[Log], None]] = []
_lock = threading.Lock()
_installed = False


class _Relay(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        level = LogLevel.ERROR if record.levelno >= logging.ERROR else LogLevel.WARNING
        event = Log(record.getMessage(), level)
        stack = getattr(_local, "stack", None)
        if stack:
            stack[-1](event)
            return
        with _lock:
            listeners = list(_subscribers)
        if not listeners and logging.lastResort is not None:
            logging.lastResort.handle(record)  # nobody listens: stderr, as logging itself would
        for listener in listeners:
            listener(event)


def install() -> None:
    """Relay the warnings of every ``flowerstudio.*`` logger (done once; ``reporting_to`` does it)."""
    global _installed
    with _lock:
        if _installed:
            return
        logger = logging.getLogger("flowerstudio")
        logger.addHandler(_Relay(logging.WARNING))
        logger.propagate = False  # relayed, not printed a second time by the root logger
        _installed = True


@contextlib.contextmanager
def reporting_to(callback: Callback) -> Iterator[None]:
    """Inside the block, warnings logged on this thread become ``Log`` events for ``callback``."""
    install()
    stack = getattr(_local, "stack", None)
    if stack is None:
        stack = _local.stack = []
    stack.append(callback)
    try:
        yield
    finally:
        stack.pop()


def subscribe(listener: Callable[[Log], None]) -> Callable[[], None]:
    """Receive the warnings logged outside any ``reporting_to`` block; returns the call that stops it."""
    install()
    with _lock:
        _subscribers.append(listener)

    def unsubscribe() -> None:
        with _lock:
            if listener in _subscribers:
                _subscribers.remove(listener)

    return unsubscribe
