"""Typed events the engine reports through, and the cancel token it checks.

Events are small frozen dataclasses of plain data, so a GUI can forward them
across threads as they are. A callback receives every event; it must be quick.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Callable, Optional


@dataclass(frozen=True)
class Log:
    """A human-readable message. level: 'info', 'warning' or 'error'."""

    text: str
    level: str = "info"


@dataclass(frozen=True)
class RunStarted:
    """A training stage begins in ``run_dir`` (a new run folder, or the one it continues)."""

    run_dir: str
    stage: str


@dataclass(frozen=True)
class PhaseStarted:
    """A phase begins: 'download', 'scan', 'extract', 'train', 'validate', 'predict'."""

    phase: str
    total: int
    epoch: int = 0
    stage: str = ""


@dataclass(frozen=True)
class Progress:
    """Progress within a phase (a batch, a file, a chunk of bytes).

    ``loss`` is the running mean loss of the phase so far (None where it has none);
    ``eta`` is the estimated seconds left in the phase.
    """

    phase: str
    done: int
    total: int
    epoch: int = 0
    loss: Optional[float] = None
    eta: Optional[float] = None


@dataclass(frozen=True)
class EpochMetrics:
    """Everything measured in one epoch (train pass, then validation pass)."""

    epoch: int
    stage: str
    train_loss: float
    train_acc: float
    val_loss: float
    val_acc: float
    lr: float
    seconds: float
    is_best: bool = False


@dataclass(frozen=True)
class EpochEnd:
    metrics: EpochMetrics


@dataclass(frozen=True)
class CheckpointSaved:
    """A model file was written. kind: 'best' or 'last'."""

    path: str
    kind: str
    epoch: int
    val_acc: float


@dataclass(frozen=True)
class BadImage:
    """A photo that could not be used; the run goes on without it."""

    path: str
    reason: str


Event = object
Callback = Callable[[Event], None]


def ignore(_event: Event) -> None:
    """The default callback: drop every event."""


class Cancelled(Exception):
    """Raised inside the engine when its cancel token is set."""


class CancelToken:
    """Thread-safe cancel flag, checked by the engine every batch."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def raise_if_cancelled(self) -> None:
        if self._event.is_set():
            raise Cancelled()


@dataclass
class Meter:
    """Counts work done in a phase and estimates the time left."""

    total: int
    start: float = field(default_factory=time.perf_counter)
    done: int = 0

    def step(self, n: int = 1) -> None:
        self.done += n

    @property
    def eta(self) -> Optional[float]:
        if self.done <= 0:
            return None
        elapsed = time.perf_counter() - self.start
        return elapsed / self.done * max(self.total - self.done, 0)


@dataclass(frozen=True)
class PredictionBatch:
    """Predictions finished so far arrive in batches, so a gallery can fill as they come."""

    predictions: tuple
