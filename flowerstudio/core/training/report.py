"""How a training stage speaks: every event goes to the caller and, as a line, to the run's train.log.

Under torchrun only rank 0 speaks for the job. A photo reported bad twice (a view of it in each epoch)
is reported once. Warnings the core logs while the stage runs (an engine falling back, say) arrive
here too (foundation/notify.py), so they reach the GUI and train.log like any other line.
"""
from __future__ import annotations

from flowerstudio.core.foundation.events import BadImage, Callback, Log
from flowerstudio.core.foundation.vocab import LogLevel
from flowerstudio.core.runs.writer import RunWriter


class Reporter:
    """``emit(event)`` and ``say(text)`` for one stage; ``bad`` holds every photo left out, with why."""

    def __init__(self, callback: Callback, writer: RunWriter, is_main: bool = True) -> None:
        self._callback = callback
        self.writer = writer
        self.is_main = is_main
        self.bad: dict[str, str] = {}

    def emit(self, event) -> None:
        if not self.is_main:
            return
        if isinstance(event, BadImage):
            if event.path in self.bad:
                return
            self.bad[event.path] = event.reason
        self.writer.record(event)
        self._callback(event)

    def say(self, text: str, level: LogLevel = LogLevel.INFO) -> None:
        self.emit(Log(text, level))
