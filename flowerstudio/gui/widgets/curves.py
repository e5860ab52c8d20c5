"""Live training curves, round by round: how wrong the answers are (loss), how many photos are right (accuracy),
and the size of each training step (learning rate). Plain titles; the technical word in brackets and tooltips."""
from __future__ import annotations

import math
from typing import Optional, Sequence

import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QFontMetrics
from PySide6.QtWidgets import QVBoxLayout, QWidget
from flowerstudio.core.foundation.vocab import TrainMode
from flowerstudio.gui import style
from flowerstudio.gui.widgets.plot_items import remove_item

TRAIN_PEN = pg.mkPen(style.TRAIN, width=2)
VAL_PEN = pg.mkPen(style.VALIDATION, width=2)
LR_PEN = pg.mkPen(style.LEARNING_RATE, width=2)
STAGE_PEN = pg.mkPen(style.STAGE, width=1.5, style=Qt.PenStyle.DashLine)
BEST_PEN = pg.mkPen(style.BEST, width=1.5, style=Qt.PenStyle.DotLine)

# What each training step trains, in the words the Train page uses.
STAGE_NAMES = {TrainMode.FROZEN: "new layer only", TrainMode.LAST_STAGES: "last parts of the network",
               TrainMode.ALL: "whole network"}
ROUNDS = "round (epoch)"
# (title, tooltip) of the three plots, left to right.
PLOTS = (("Error (loss) — lower is better",
          "How wrong the model's answers are, on average (the cross-entropy loss). Lower is better.\n"
          "Validation error rising while training error falls: the model is learning the training photos "
          "by heart (overfitting)."),
         ("Photos right (%) — higher is better",
          "The share of photos the model gets right (accuracy): training photos, and validation photos it never "
          "trains on.\nThe best round's model (★) is the one kept."),
         ("Step size (learning rate)",
          "How big a change each training step makes to the model (the learning rate).\nFine-tuning uses a "
          "smaller one; it is cut during a step."))
LEGEND = (("train_acc", "training photos"), ("val_acc", "validation photos"))


class EpochAxis(pg.AxisItem):
    """Epochs are whole numbers: pyqtgraph's automatic ticks would also label "1.5" and "2.5"."""

    def tickValues(self, minVal, maxVal, size):  # noqa: N802, N803 (pyqtgraph's names)
        return [(max(spacing, 1.0), [v for v in values if float(v).is_integer()])
                for spacing, values in super().tickValues(minVal, maxVal, size)]


class RateAxis(pg.AxisItem):
    """On a log scale, ticks only at the rates the run used, as plain numbers ("0.001", "0.0001").
    pyqtgraph's own log ticks label every ninth of a decade: 0.001, 0.0009, 0.0008 ... 9·10⁻⁵."""

    MAX_TICKS = 6

    def __init__(self) -> None:
        super().__init__("left")
        self.rates: list[float] = []

    def logTickValues(self, minVal, maxVal, size, stdTicks):  # noqa: N802, N803 (pyqtgraph's names)
        if not self.rates:
            return super().logTickValues(minVal, maxVal, size, stdTicks)
        step = math.ceil(len(self.rates) / self.MAX_TICKS)  # a decaying schedule may use many
        return [(None, [math.log10(r) for r in self.rates[::step]])]

    def logTickStrings(self, values, scale, spacing):  # noqa: N802 (pyqtgraph's name)
        return [f"{10 ** v:.3g}" for v in values]


class StageAxis(pg.AxisItem):
    """The band above a plot: the name of each training step over its rounds. Outside the plotted area, so a
    name never covers a curve; a name wider than its rounds is moved inwards so that it is shown whole."""

    def __init__(self) -> None:
        super().__init__("top")
        self.stages: list[tuple[float, float, str]] = []  # (left edge, right edge, name) in rounds
        self._names: dict[float, str] = {}
        self.setPen(pg.mkPen(None))  # no axis line: only the names
        self.setTextPen(style.STAGE)
        self.setStyle(tickLength=0, tickTextOffset=6)  # clear of the plotted area below
        self.setHeight(QFontMetrics(self.font()).height() + 10)  # the same with names or without: plots line up

    def set_stages(self, stages: list[tuple[float, float, str]]) -> None:
        self.stages = stages
        self.setTicks(None)  # drawn again: pyqtgraph keeps its drawing until the ticks or the range change

    def tickValues(self, minVal, maxVal, size):  # noqa: N802, N803 (pyqtgraph's names)
        if not self.stages:
            return []
        per_px = (maxVal - minVal) / max(size, 1.0)
        metrics = QFontMetrics(self.style.get("tickFont") or self.font())
        self._names = {}
        for left, right, name in self.stages:
            half = (metrics.horizontalAdvance(name) / 2 + 3) * per_px
            self._names[max(minVal + half, min((left + right) / 2, maxVal - half))] = name
        return [(None, list(self._names))]

    def tickStrings(self, values, scale, spacing):  # noqa: N802 (pyqtgraph's name)
        names = [self._names.get(v) for v in values]
        if None in names:  # not a place of ours: pyqtgraph's own numbers
            return super().tickStrings(values, scale, spacing or 1.0)
        return names


class TrainingCurves(QWidget):
    """Three linked plots fed one EpochMetrics at a time, under one legend.

    A dashed line marks where a new step began (the new layer, then fine-tuning), its name above the
    accuracy plot; a red dotted line and a star mark the best round so far.
    """

    def __init__(self, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.graphics = pg.GraphicsLayoutWidget()
        self.graphics.setMinimumHeight(220)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.graphics)
        self.loss_plot = self._plot(0)
        self.acc_plot = self._plot(1)
        self.rate_axis = RateAxis()
        self.lr_plot = self._plot(2, self.rate_axis)
        self.acc_plot.setXLink(self.loss_plot)
        self.lr_plot.setXLink(self.loss_plot)
        self.acc_plot.setYRange(0, 100, padding=0.02)
        self.stage_axis: StageAxis = self.acc_plot.getAxis("top")
        dot = {"symbol": "o", "symbolSize": 5}
        self.curves = {
            "train_loss": self.loss_plot.plot(pen=TRAIN_PEN, symbolBrush=style.TRAIN, **dot),
            "val_loss": self.loss_plot.plot(pen=VAL_PEN, symbolBrush=style.VALIDATION, **dot),
            "train_acc": self.acc_plot.plot(pen=TRAIN_PEN, symbolBrush=style.TRAIN, **dot),
            "val_acc": self.acc_plot.plot(pen=VAL_PEN, symbolBrush=style.VALIDATION, **dot),
            "lr": self.lr_plot.plot(pen=LR_PEN, symbolBrush=style.LEARNING_RATE, **dot),
        }
        self.best_star = pg.ScatterPlotItem(symbol="star", size=16, brush=style.BEST, pen=None)
        self.acc_plot.addItem(self.best_star)
        self.legend = self._legend()
        self._markers: list[tuple[pg.PlotItem, pg.GraphicsObject]] = []
        self._best_lines: list[pg.InfiniteLine] = []
        self.clear()

    def _plot(self, col: int, left: Optional[pg.AxisItem] = None) -> pg.PlotItem:
        title, tip = PLOTS[col]
        axes = {"bottom": EpochAxis("bottom"), "top": StageAxis(), **({"left": left} if left is not None else {})}
        plot = self.graphics.addPlot(row=1, col=col, title=title, axisItems=axes)
        plot.setToolTip(tip)
        plot.showGrid(x=True, y=True, alpha=0.25)
        plot.showAxis("top")  # on every plot, so the three plotted areas line up; names only on accuracy's
        plot.getAxis("top").setGrid(False)
        plot.setLabel("bottom", ROUNDS)
        plot.getAxis("bottom").setToolTip("A round (an epoch) is one pass through all the training photos.")
        plot.setMouseEnabled(x=False, y=False)
        plot.hideButtons()
        return plot

    def _legend(self) -> pg.LegendItem:
        """One legend for the three plots, in a row of its own above them: it never covers a curve."""
        legend = pg.LegendItem(colCount=4, labelTextSize="9pt")
        self.graphics.addItem(legend, row=0, col=0, colspan=3)
        self.graphics.ci.layout.setAlignment(legend, Qt.AlignmentFlag.AlignHCenter)
        for key, name in LEGEND:
            legend.addItem(self.curves[key], name)
        legend.addItem(self.best_star, "best round (the model kept)")
        self._stage_sample = pg.PlotDataItem(pen=STAGE_PEN)  # only its look: the legend's sample of the lines
        legend.addItem(self._stage_sample, "a new step starts")
        for sample, _label in legend.items:
            # A click on a swatch would hide its curve and draw an eye instead of it: a curve gone missing.
            sample.setEnabled(False)  # (pyqtgraph sends no clicks to a disabled item)
        legend.setToolTip("Validation photos are kept aside and never trained on: their curve shows how the model "
                          "does on photos it has not seen.")
        return legend

    def clear(self) -> None:
        self.history: list = []
        self.best_epoch: Optional[int] = None
        self.stage_changes: list[int] = []
        self._data: dict[str, list[float]] = {k: [] for k in self.curves}
        self._epochs: list[int] = []
        self.rate_axis.rates = []
        self.stage_axis.set_stages([])
        for curve in self.curves.values():
            curve.setData([], [])
        self.best_star.setData([], [])
        for plot, item in self._markers:
            remove_item(plot, item)
        self._markers.clear()
        self._best_lines.clear()

    def set_history(self, history: Sequence) -> None:
        self.clear()
        for m in history:
            self.add_epoch(m)

    def add_epoch(self, m) -> None:
        """Append one core EpochMetrics."""
        prev_stage = self.history[-1].stage if self.history else None
        self.history.append(m)
        self._epochs.append(m.epoch)
        self._data["train_loss"].append(m.train_loss)
        self._data["val_loss"].append(m.val_loss)
        self._data["train_acc"].append(100.0 * m.train_acc)
        self._data["val_acc"].append(100.0 * m.val_acc)
        self._data["lr"].append(max(m.lr, 1e-12))
        for key, curve in self.curves.items():
            curve.setData(self._epochs, self._data[key])
        lrs = self._data["lr"]
        self.rate_axis.rates = sorted(set(lrs), reverse=True)
        # A log axis only helps once the rate spans a decade (e.g. after fine-tuning).
        self.lr_plot.setLogMode(y=max(lrs) / min(lrs) >= 5)
        if max(lrs) == min(lrs):  # a flat line: auto-range would zoom to nothing around it
            self.lr_plot.setYRange(0, 2 * lrs[0], padding=0.05)
        else:
            self.lr_plot.enableAutoRange(axis="y")
        if prev_stage is not None and m.stage != prev_stage:
            self._mark_stage(m.epoch - 0.5)
        self._name_stages()
        if m.is_best:
            self._mark_best(m.epoch, 100.0 * m.val_acc)
        for plot in (self.loss_plot, self.acc_plot, self.lr_plot):
            plot.setXRange(min(self._epochs) - 0.5, max(self._epochs) + 0.5, padding=0)

    def _mark_stage(self, x: float) -> None:
        self.stage_changes.append(int(x + 0.5))
        for plot in (self.loss_plot, self.acc_plot, self.lr_plot):
            line = pg.InfiniteLine(pos=x, angle=90, pen=STAGE_PEN, movable=False)
            plot.addItem(line)
            self._markers.append((plot, line))

    def _name_stages(self) -> None:
        """Each step's name above its rounds, once there is more than one step."""
        spans: list[tuple[float, float, str]] = []
        for epoch, m in zip(self._epochs, self.history):
            name = STAGE_NAMES.get(m.stage, str(m.stage))
            if spans and spans[-1][2] == name:
                spans[-1] = (spans[-1][0], epoch + 0.5, name)
            else:
                spans.append((epoch - 0.5, epoch + 0.5, name))
        self.stage_axis.set_stages(spans if len(spans) > 1 else [])

    def _mark_best(self, epoch: int, acc: float) -> None:
        self.best_epoch = epoch
        self.best_star.setData([epoch], [acc])
        for plot, line in list(self._markers):
            if line in self._best_lines:
                remove_item(plot, line)
                self._markers.remove((plot, line))
        self._best_lines.clear()
        for plot in (self.loss_plot, self.acc_plot):
            line = pg.InfiniteLine(pos=epoch, angle=90, pen=BEST_PEN, movable=False)
            plot.addItem(line)
            self._markers.append((plot, line))
            self._best_lines.append(line)

    def points(self, key: str) -> list[float]:
        """The plotted values of a curve ('train_loss', 'val_acc', 'lr', ...)."""
        return list(self._data[key])
