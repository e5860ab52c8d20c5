"""The learning-rate finder: a short test run, the loss curve, and a suggested learning rate."""
from __future__ import annotations

import math
from typing import Optional

import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (QDialog, QDialogButtonBox, QLabel, QProgressBar, QPushButton, QVBoxLayout,
                               QWidget)

from flowerstudio.core.foundation.config import TrainConfig  # plain dataclasses, no torch
from flowerstudio.gui import messages
from flowerstudio.gui import engine
from flowerstudio.gui.jobs import Job, run_job
from flowerstudio.gui.style import BAD, NEUTRAL

ABOUT = ("The finder trains a throw-away copy of the model for a few batches while raising the learning rate "
         "step by step, and watches the loss (how wrong the model is). Nothing is saved.")


def fmt_lr(lr: float) -> str:
    """0.003 rather than 3.0e-03 where that is still short."""
    return f"{lr:.2g}" if 1e-3 <= lr < 10 else f"{lr:.1e}"


class LrFinderDialog(QDialog):
    """Runs the finder when shown. Accepted via "Use this learning rate": read ``suggested_lr``."""

    def __init__(self, config: TrainConfig, parent: Optional[QWidget] = None, num_steps: int = 100,
                 start_lr: float = 1e-7, end_lr: float = 1.0) -> None:
        super().__init__(parent)
        self.setWindowTitle("Find a good learning rate")
        self.resize(640, 520)
        self.config = config
        self.num_steps, self.start_lr, self.end_lr = num_steps, start_lr, end_lr
        self.result = None
        self.task: Optional[Job] = None
        self._live: list[tuple[float, float]] = []

        about = QLabel(ABOUT)
        about.setWordWrap(True)
        self.status = QLabel("Starting… (loading the model)")
        self.progress = QProgressBar()
        self.progress.setRange(0, 0)
        self.plot_widget = pg.PlotWidget()
        plot = self.plot = self.plot_widget.getPlotItem()
        plot.setLogMode(x=True, y=False)
        plot.setLabel("bottom", "learning rate")
        plot.setLabel("left", "loss (lower is better)")
        plot.showGrid(x=True, y=True, alpha=0.25)
        plot.setMouseEnabled(x=False, y=False)
        plot.hideButtons()
        plot.getAxis("bottom").enableAutoSIPrefix(False)  # "x1e-06" under the axis confuses
        plot.setXRange(math.log10(start_lr), math.log10(end_lr), padding=0.02)  # the whole sweep from the start
        self.curve = plot.plot([], [], pen=pg.mkPen(NEUTRAL, width=2))
        self.marker = plot.plot([], [], pen=None, symbol="o", symbolSize=12, symbolBrush=BAD,
                                symbolPen="w")
        self.line = pg.InfiniteLine(angle=90, pen=pg.mkPen(BAD, style=Qt.PenStyle.DashLine))
        self.line.setVisible(False)
        plot.addItem(self.line)
        self.explain = QLabel()
        self.explain.setWordWrap(True)
        self.buttons = QDialogButtonBox()
        self.use_btn = QPushButton("Use this learning rate")
        self.use_btn.setEnabled(False)
        self.buttons.addButton(self.use_btn, QDialogButtonBox.ButtonRole.AcceptRole)
        self.buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        lay = QVBoxLayout(self)
        lay.addWidget(about)
        lay.addWidget(self.status)
        lay.addWidget(self.progress)
        lay.addWidget(self.plot_widget, 1)
        lay.addWidget(self.explain)
        lay.addWidget(self.buttons)

    @property
    def suggested_lr(self) -> Optional[float]:
        """The suggestion once the test finished (None before, or when it was stopped)."""
        if self.result is None or not self.result.lrs:
            return None
        return self.result.suggested_lr

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if self.task is None:
            self.start()

    def start(self) -> None:
        self.task = run_job(engine.find_lr, self.config, self.start_lr, self.end_lr, self.num_steps,
                            title="Learning-rate finder", owner=self, on_event=self._on_event,
                            on_result=self._on_result, on_error=self._on_failed, on_cancelled=self._on_stopped)

    def is_busy(self) -> bool:
        return self.task is not None and self.task.running

    def reject(self) -> None:
        if self.is_busy():
            self.task.cancel()  # stops at its next step; nothing of it is kept
        super().reject()

    def _on_event(self, ev) -> None:
        from flowerstudio.core.foundation.events import LrPoint, PhaseStarted, Progress

        if isinstance(ev, LrPoint):  # the engine says which rate each step ran at
            self.progress.setRange(0, max(ev.total, 1))
            self.progress.setValue(ev.step)
            self.status.setText(f"Testing learning rates: step {ev.step} of {ev.total}")
            if math.isfinite(ev.loss):
                self._live.append((ev.lr, ev.loss))
                self._draw([a for a, _ in self._live], [b for _, b in self._live])
        elif isinstance(ev, PhaseStarted):
            self.progress.setRange(0, max(ev.total, 1))
            self.progress.setValue(0)
            self.status.setText("Testing learning rates…" if ev.phase == "lr_find" else "Reading the photos…")
        elif isinstance(ev, Progress) and ev.phase == "extract":
            self.progress.setRange(0, max(ev.total, 1))
            self.progress.setValue(ev.done)
            self.status.setText(f"Reading the photos: {ev.done} of {ev.total}")

    def _draw(self, lrs: list[float], losses: list[float]) -> None:
        finite = [(a, b) for a, b in zip(lrs, losses) if math.isfinite(b)]
        if not finite:
            return
        self.curve.setData([a for a, _ in finite], [b for _, b in finite])
        ys = [b for _, b in finite]
        # The last steps shoot up as training breaks down; keep the interesting part in view.
        top = min(max(ys), 1.5 * ys[0]) if ys[0] > 0 else max(ys)
        low = min(ys)
        self.plot.setYRange(low - 0.05 * (top - low + 1e-9), top + 0.05 * (top - low + 1e-9), padding=0)

    def _on_stopped(self, partial) -> None:
        """Stopped: the curve so far stays on screen, with no suggestion to use."""
        self.progress.setVisible(False)
        if partial is not None:
            self._draw(partial.lrs, partial.losses)
        self.status.setText("Stopped.")

    def _on_result(self, result) -> None:
        self.result = result
        self.progress.setRange(0, 1)
        self.progress.setValue(1)
        self._draw(result.lrs, result.losses)
        if not result.lrs:
            self.status.setText("No step could run.")
            return
        lr = result.suggested_lr
        i = min(range(len(result.lrs)), key=lambda k: abs(result.lrs[k] - lr))
        self.marker.setData([lr], [result.losses[i]])
        self.line.setPos(math.log10(lr))  # in log mode the axis runs over log10(lr)
        self.line.setVisible(True)
        self.status.setText(f"Done: {len(result.lrs)} steps measured.")
        self.progress.setVisible(False)
        text = (f"Suggested learning rate: <b>{fmt_lr(lr)}</b> (the red dot). There the loss falls fastest, "
                "so training learns quickly without becoming unstable. ")
        current = self.config.lr
        if current and abs(math.log10(current / lr)) > 0.5:
            text += f"Your current setting is {fmt_lr(current)}."
        else:
            text += f"Your current setting ({fmt_lr(current)}) is already close to it."
        if result.stopped_early:
            text += "<br><small>The test stopped early because the loss shot up at high learning rates — " \
                    "that is normal.</small>"
        self.explain.setText(text)
        self.use_btn.setEnabled(True)
        self.use_btn.setDefault(True)

    def _on_failed(self, message: str, details: str) -> None:
        self.progress.setVisible(False)
        self.status.setText("The test could not run.")
        messages.show_error(self, "Learning-rate finder failed", message, details)


def open_finder(parent: QWidget, config, field, num_steps: int, on_closed) -> LrFinderDialog:
    """Open the finder window-modally (no nested event loop); "Use" puts the suggestion into ``field``;
    ``on_closed(dialog)`` when it closes either way."""
    dlg = LrFinderDialog(config, parent, num_steps=num_steps)
    dlg.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)

    def closed(code: int) -> None:
        if code == QDialog.DialogCode.Accepted and dlg.suggested_lr:
            field.setValue(dlg.suggested_lr)
        on_closed(dlg)

    dlg.finished.connect(closed)
    dlg.open()
    return dlg
