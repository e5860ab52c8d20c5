"""Live training curves: loss, accuracy and learning rate per epoch."""
from __future__ import annotations

import math
from typing import Optional, Sequence

import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QVBoxLayout, QWidget
from flowerstudio.core.foundation.vocab import TrainMode
from flowerstudio.gui import style
from flowerstudio.gui.widgets.plot_items import remove_item

TRAIN_PEN = pg.mkPen(style.TRAIN, width=2)
VAL_PEN = pg.mkPen(style.VALIDATION, width=2)
LR_PEN = pg.mkPen(style.LEARNING_RATE, width=2)
STAGE_PEN = pg.mkPen(style.STAGE, width=1.5, style=Qt.PenStyle.DashLine)
BEST_PEN = pg.mkPen(style.BEST, width=1.5, style=Qt.PenStyle.DotLine)

STAGE_NAMES = {TrainMode.FROZEN: "head only", TrainMode.LAST_STAGES: "fine-tune (last stages)",
               TrainMode.ALL: "fine-tune (all)"}


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


class TrainingCurves(QWidget):
    """Three linked plots fed one EpochMetrics at a time.

    A dashed line marks where the stage changed (frozen -> fine-tune); a red
    dotted line and star mark the best epoch so far.
    """

    def __init__(self, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.graphics = pg.GraphicsLayoutWidget()
        self.graphics.setMinimumHeight(220)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.graphics)
        self.loss_plot = self._plot("Loss", 0)
        self.acc_plot = self._plot("Accuracy (%)", 1)
        self.rate_axis = RateAxis()
        self.lr_plot = self._plot("Learning rate", 2, self.rate_axis)
        self.acc_plot.setXLink(self.loss_plot)
        self.lr_plot.setXLink(self.loss_plot)
        self.acc_plot.setYRange(0, 100, padding=0.02)
        self.curves = {
            "train_loss": self.loss_plot.plot(pen=TRAIN_PEN, symbol="o", symbolSize=5, symbolBrush=style.TRAIN, name="train"),
            "val_loss": self.loss_plot.plot(pen=VAL_PEN, symbol="o", symbolSize=5, symbolBrush=style.VALIDATION, name="validation"),
            "train_acc": self.acc_plot.plot(pen=TRAIN_PEN, symbol="o", symbolSize=5, symbolBrush=style.TRAIN, name="train"),
            "val_acc": self.acc_plot.plot(pen=VAL_PEN, symbol="o", symbolSize=5, symbolBrush=style.VALIDATION, name="validation"),
            "lr": self.lr_plot.plot(pen=LR_PEN, symbol="o", symbolSize=5, symbolBrush=style.LEARNING_RATE),
        }
        self.best_star = pg.ScatterPlotItem(symbol="star", size=16, brush=style.BEST, pen=None)
        self.acc_plot.addItem(self.best_star)
        self._markers: list[tuple[pg.PlotItem, pg.GraphicsObject]] = []
        self._best_lines: list[pg.InfiniteLine] = []
        self.clear()

    def _plot(self, title: str, col: int, left: Optional[pg.AxisItem] = None) -> pg.PlotItem:
        axes = {"bottom": EpochAxis("bottom"), **({"left": left} if left is not None else {})}
        plot = self.graphics.addPlot(row=0, col=col, title=title, axisItems=axes)
        plot.showGrid(x=True, y=True, alpha=0.25)
        plot.setLabel("bottom", "epoch")
        plot.setMouseEnabled(x=False, y=False)
        plot.hideButtons()
        if col < 2:
            # Loss falls and accuracy rises: keep each legend in the corner its curves leave empty.
            plot.addLegend(offset=(-5, 5) if col == 0 else (-5, -5), labelTextSize="8pt")
        return plot

    def clear(self) -> None:
        self.history: list = []
        self.best_epoch: Optional[int] = None
        self.stage_changes: list[int] = []
        self._data: dict[str, list[float]] = {k: [] for k in self.curves}
        self._epochs: list[int] = []
        self.rate_axis.rates = []
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
            self._mark_stage(m.epoch - 0.5, STAGE_NAMES.get(m.stage, m.stage))
        if m.is_best:
            self._mark_best(m.epoch, 100.0 * m.val_acc)
        for plot in (self.loss_plot, self.acc_plot, self.lr_plot):
            plot.setXRange(min(self._epochs) - 0.5, max(self._epochs) + 0.5, padding=0)

    def _mark_stage(self, x: float, label: str) -> None:
        self.stage_changes.append(int(x + 0.5))
        for plot in (self.loss_plot, self.acc_plot, self.lr_plot):
            line = pg.InfiniteLine(pos=x, angle=90, pen=STAGE_PEN, movable=False,
                                   label=label if plot is self.acc_plot else None,
                                   labelOpts={"position": 0.95, "color": "#555", "fill": (255, 255, 255, 200)})
            plot.addItem(line)
            self._markers.append((plot, line))

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
