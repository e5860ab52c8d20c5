"""What a training run reports, shown as it happens: round, best result, progress bars, curves, log; how it
ended; and what the next one would run (the second button's words). Plain words: the core's own stay in its log."""
from __future__ import annotations

from typing import Optional

from PySide6.QtCore import Qt
from PySide6.QtGui import QFont
from PySide6.QtWidgets import QGridLayout, QLabel, QPlainTextEdit, QProgressBar, QSplitter, QVBoxLayout, QWidget

from flowerstudio.core.foundation.events import BadImage, CheckpointSaved, EpochEnd, Log, PhaseStarted, Progress
from flowerstudio.core.foundation.vocab import Phase, TrainMode
from flowerstudio.core.training.plan import StagePlan
from flowerstudio.gui.style import esc, fmt_duration, fmt_eta
from flowerstudio.gui.widgets.curves import STAGE_NAMES, TrainingCurves

PHASE_TITLES = {Phase.DOWNLOAD: "Downloading the pretrained network", Phase.EXTRACT: "Reading the photos once",
                Phase.SCAN: "Checking photos", Phase.TRAIN: "Training", Phase.VALIDATE: "Checking on validation photos",
                Phase.PREDICT: "Predicting", Phase.LR_FIND: "Trying learning rates"}
STOPPING = "Stopping… the best model so far is kept."
BATCH_PHASES = (Phase.TRAIN, Phase.VALIDATE)  # the main bar; everything else uses the second one


class TrainProgress(QWidget):
    """Fed the core's events by the Train page; ``status`` is the short line for the status bar."""

    def __init__(self, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.epoch_label = QLabel("Round: –")
        self.epoch_label.setToolTip("A round (an epoch) is one pass through all the training photos.")
        self.best_label = QLabel("Best so far: –")
        self.best_label.setToolTip("The share of validation photos (photos kept aside, never trained on) the best "
                                   "model gets right.")
        self.phase_label = QLabel("")
        self.batch_bar = QProgressBar()
        self.batch_bar.setFormat("%v / %m batches")
        self.batch_bar.setToolTip("The photos go through the model a batch (a group of photos) at a time; "
                                  "\"Batch size\" under Advanced says how many.")
        self.aux_bar = QProgressBar()
        self.aux_bar.setVisible(False)
        self.curves = TrainingCurves()
        self.log = QPlainTextEdit()
        self.log.setReadOnly(True)
        self.log.setMaximumBlockCount(5000)
        self.log.setFont(QFont("monospace", 9))
        self.log.setToolTip("The run's log (train.log), in the training engine's own words: an epoch is a round, "
                            "loss the error, acc the share of photos right, val the validation photos.")
        self._epochs_total = 0
        self._epoch_offset = 0
        self._stopping = False  # Stop was pressed: that stays on screen until the stage has ended

        grid = QGridLayout()
        grid.addWidget(self.epoch_label, 0, 0)
        grid.addWidget(self.best_label, 0, 1)
        grid.addWidget(self.phase_label, 1, 0, 1, 2)
        grid.addWidget(self.batch_bar, 2, 0, 1, 2)
        grid.addWidget(self.aux_bar, 3, 0, 1, 2)
        vsplit = QSplitter(Qt.Orientation.Vertical)
        vsplit.addWidget(self.curves)
        vsplit.addWidget(self.log)
        vsplit.setSizes([420, 160])
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addLayout(grid)
        lay.addWidget(vsplit, 1)

    def reset(self) -> None:
        self.curves.clear()
        self.log.clear()
        self.best_label.setText("Best so far: –")

    def begin(self, title: str, epochs: int) -> None:
        """A stage starts; its rounds count from 1 even when it continues a run."""
        self._epochs_total = epochs
        self._epoch_offset = len(self.curves.history)
        self._stopping = False
        self.batch_bar.setValue(0)
        self.epoch_label.setText(f"Round – / {epochs}")
        self.phase_label.setText(f"{title}: {epochs} rounds. Starting…")
        self.append(f"== {title}: {epochs} rounds")

    def show_history(self, history: list, log_text: str) -> None:
        """A finished run, reopened (or another run now in use): its curves and its log, nothing of the run
        shown before."""
        self.curves.set_history(history)
        self._stopping = False
        self.epoch_label.setText("Round: –")
        self.phase_label.clear()
        self.batch_bar.setFormat("%v / %m batches")
        self.batch_bar.reset()  # empty, no "0 / 100"
        self.best_label.setText("Best so far: –")
        self._show_best()
        self.log.setPlainText(log_text)
        self.log.verticalScrollBar().setValue(self.log.verticalScrollBar().maximum())

    def on_event(self, ev) -> Optional[str]:
        """Shows one core event; returns a status-bar line when the epoch changes."""
        if isinstance(ev, Progress):
            self._on_progress(ev)
        elif isinstance(ev, PhaseStarted):
            return self._on_phase(ev)
        elif isinstance(ev, EpochEnd):
            self.curves.add_epoch(ev.metrics)
            self._show_best()
        elif isinstance(ev, Log):
            self.append(ev.text if ev.level == "info" else f"{str(ev.level).upper()}: {ev.text}")
        elif isinstance(ev, CheckpointSaved):
            self.append(f"Saved the {ev.kind} model (round {ev.epoch}, {100 * ev.val_acc:.1f} % of the validation "
                        f"photos right): {ev.path}")
        elif isinstance(ev, BadImage):
            self.append(f"WARNING: skipped {ev.path}: {ev.reason}")
        return None

    def finished(self, result, word: str, took: float) -> str:
        """A stage ended (``word``: finished or stopped) after ``took`` seconds: the page's line about it."""
        self.end(word)
        best = result.best.words() if result.best else "none"
        self.append(f"== Run {word}. Best: {best} of the validation photos right (round {result.best_epoch}).")
        gained = "" if result.gained else " (no gain from this stage: the earlier model is kept)"
        return (f"Run {word} after {fmt_duration(took)}: the best model gets <b>{esc(best)}</b> of the validation "
                f"photos right{gained}.")

    def end(self, word: str) -> None:
        self._stopping = False
        self.aux_bar.setVisible(False)
        self.phase_label.setText(f"Training {word}.")
        self.batch_bar.setFormat(f"Training {word}")
        self.batch_bar.setValue(self.batch_bar.maximum())

    def stopping(self) -> None:
        self._stopping = True
        self.phase_label.setText(STOPPING)

    def append(self, text: str) -> None:
        bar = self.log.verticalScrollBar()
        follow = bar.value() >= bar.maximum() - 4  # don't yank the view while the user reads back
        self.log.appendPlainText(text)
        if follow:
            bar.setValue(bar.maximum())

    def _show_best(self) -> None:
        # The engine marks its best epoch (ties go to the lower loss); never recompute it here.
        best = [m for m in self.curves.history if m.is_best]
        if best:
            m = best[-1]
            self.best_label.setText(f"Best so far: <b>{m.score.words()}</b> validation photos right (round {m.epoch})")

    def _on_phase(self, ev: PhaseStarted) -> Optional[str]:
        batch = ev.phase in BATCH_PHASES
        bar = self.batch_bar if batch else self.aux_bar
        bar.setVisible(True)
        bar.setRange(0, max(ev.total, 0))
        bar.setValue(0)
        title = PHASE_TITLES.get(ev.phase, str(ev.phase))
        if batch:
            bar.setFormat(f"{title}: %v / %m batches")
            self.aux_bar.setVisible(False)
        else:
            unit = "MB" if ev.phase == Phase.DOWNLOAD else "photos"
            bar.setFormat(f"{title}: %v / %m {unit}" if ev.total else f"{title}…")
        if not self._stopping:
            self.phase_label.setText(title + "…")
        if not ev.epoch:
            return None
        stage = STAGE_NAMES.get(ev.stage, str(ev.stage))
        n = ev.epoch - self._epoch_offset
        self.epoch_label.setText(f"Round {n} / {self._epochs_total}" + (f" · {stage}" if stage else ""))
        best = [m for m in self.curves.history if m.is_best]
        return f"Training: round {n}/{self._epochs_total}" + (
            f" · best {100 * best[-1].val_acc:.1f} %" if best else "")

    def _on_progress(self, ev: Progress) -> None:
        bar = self.batch_bar if ev.phase in BATCH_PHASES else self.aux_bar
        if ev.phase == Phase.DOWNLOAD and ev.total > 10_000_000:
            bar.setRange(0, ev.total // 1_000_000)
            bar.setValue(ev.done // 1_000_000)
        else:
            bar.setRange(0, max(ev.total, 0))
            bar.setValue(ev.done)
        if self._stopping:
            return  # "Stopping…" stays until the stage has ended
        bits = [PHASE_TITLES.get(ev.phase, str(ev.phase))]
        if ev.stage_eta is not None:
            bits.append(f"{fmt_duration(ev.stage_eta)} left in this step")
        elif ev.eta is not None:
            bits.append(fmt_eta(ev.eta))
        self.phase_label.setText(" · ".join(bits))


def next_button_text(plan: Optional[StagePlan], advice) -> str:
    """The Train page's second button says what it will run, with its cost when known."""
    if plan is None:
        return "Train more" if advice is None else "Nothing more to train"
    from flowerstudio.core.training.plan import duration

    words = {TrainMode.FROZEN: "Train the new layer more", TrainMode.ALL: "Fine-tune the whole network",
             TrainMode.LAST_STAGES: f"Fine-tune the last {plan.stages} parts"}[plan.mode]
    cost = duration(plan.seconds) if plan.seconds is not None else ("seconds" if plan.mode == TrainMode.FROZEN
                                                                   else "slower")
    if plan.finish:
        return f"Finish the stopped step ({plan.epochs} rounds, {cost})"
    return f"{words} ({cost})"
