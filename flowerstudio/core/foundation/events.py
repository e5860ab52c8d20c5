"""Typed events the engine reports through, and the cancel token it checks.

Events are small frozen dataclasses of plain data, so a GUI can forward them
across threads as they are. A callback receives every event; it must be quick.
Word fields (phase, level, stage, kind) hold vocab.py enums; an event given the
plain word converts it, so every emitter yields the same type.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Callable, Optional

from flowerstudio.core.foundation.vocab import CheckpointKind, LogLevel, Phase, TrainMode


def _as_words(event, **kinds) -> None:
    """Store each named field of a frozen event as its enum (raises ValueError for an unknown word)."""
    for name, kind in kinds.items():
        object.__setattr__(event, name, kind(getattr(event, name)))


@dataclass(frozen=True)
class Log:
    """A human-readable message."""

    text: str
    level: LogLevel = LogLevel.INFO

    def __post_init__(self) -> None:
        _as_words(self, level=LogLevel)


@dataclass(frozen=True)
class RunStarted:
    """A training stage begins in ``run_dir`` (a new run folder, or the one it continues)."""

    run_dir: str
    stage: TrainMode

    def __post_init__(self) -> None:
        _as_words(self, stage=TrainMode)


@dataclass(frozen=True)
class PhaseStarted:
    """A phase begins. ``stage`` is the training stage for train/validate, else None."""

    phase: Phase
    total: int
    epoch: int = 0
    stage: Optional[TrainMode] = None

    def __post_init__(self) -> None:
        _as_words(self, phase=Phase)
        if self.stage is not None:
            _as_words(self, stage=TrainMode)


@dataclass(frozen=True)
class Progress:
    """Progress within a phase (a batch, a file, a chunk of bytes).

    ``loss`` is the running mean loss of the phase so far (None where it has none);
    ``eta`` is the estimated seconds left in the phase; ``stage_eta`` in the whole training stage
    (every epoch still to come, validation included), refined as it goes.
    """

    phase: Phase
    done: int
    total: int
    epoch: int = 0
    loss: Optional[float] = None
    eta: Optional[float] = None
    stage_eta: Optional[float] = None

    def __post_init__(self) -> None:
        _as_words(self, phase=Phase)


@dataclass(frozen=True)
class Score:
    """How good a model is on its validation photos, compared exactly: the share right (as counts, so
    14/20 and 28/40 tie), then the loss. The one rule for the best epoch, stages and retrains."""

    correct: int
    total: int
    loss: float

    @property
    def accuracy(self) -> float:
        return self.correct / self.total if self.total else 0.0

    def beats(self, other: Optional["Score"]) -> bool:
        """Strictly better than ``other``: more right, or as many and a lower loss. A tie keeps ``other``."""
        if other is None:
            return True
        mine, theirs = self.correct * other.total, other.correct * self.total
        return mine > theirs or (mine == theirs and self.loss < other.loss)

    def words(self) -> str:
        """'70.0 % (28 of 40)'."""
        return f"{100 * self.accuracy:.1f} % ({self.correct} of {self.total})"


@dataclass(frozen=True)
class EpochMetrics:
    """Everything measured in one epoch (train pass, then validation pass).

    ``val_correct`` of ``val_total`` validation photos were right; ``val_acc`` is their ratio, kept for
    curves and files. Comparisons use ``score`` (the counts), never the float.
    """

    epoch: int
    stage: TrainMode
    train_loss: float
    train_acc: float
    val_loss: float
    val_acc: float
    lr: float
    seconds: float
    is_best: bool = False
    val_correct: int = -1  # -1: a history written before counts were kept
    val_total: int = -1

    def __post_init__(self) -> None:
        _as_words(self, stage=TrainMode)

    @property
    def score(self) -> Score:
        if self.val_total < 0:  # an older history: the float is all there is
            return Score(round(self.val_acc * 1_000_000), 1_000_000, self.val_loss)
        return Score(self.val_correct, self.val_total, self.val_loss)


@dataclass(frozen=True)
class EpochEnd:
    metrics: EpochMetrics


@dataclass(frozen=True)
class CheckpointSaved:
    """A model file was written."""

    path: str
    kind: CheckpointKind
    epoch: int
    val_acc: float

    def __post_init__(self) -> None:
        _as_words(self, kind=CheckpointKind)


@dataclass(frozen=True)
class LrPoint:
    """One step of the learning-rate range test: ``step`` of ``total`` (from 1) ran at ``lr``;
    ``loss`` is the smoothed loss so far (may be inf or nan once training breaks down)."""

    step: int
    total: int
    lr: float
    loss: float


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
    """A long call was stopped by its cancel token: the one way every long call stops.

    It carries what was done, when that is worth keeping (``partial``): a stopped training stage's best
    model, the predictions made so far, the learning rates tried; else None. The CLI exits with 130
    after showing the partial result; a GUI job ends as cancelled with it.
    """

    def __init__(self, partial=None) -> None:
        super().__init__("stopped")
        self.partial = partial


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
