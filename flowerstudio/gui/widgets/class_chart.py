"""Horizontal bar chart of photos per class that stays readable with 100+ classes.

Each class gets a fixed-height row, and the plot grows with the number of
classes inside a scroll area, instead of squeezing 102 labels into one axis.
"""
from __future__ import annotations

import math
from typing import Optional, Sequence

import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFont, QFontMetrics
from PySide6.QtWidgets import QScrollArea, QVBoxLayout, QWidget
from flowerstudio.gui.widgets.plot_items import clear_legend, clear_plot

ROW_PX = 20
NAME_PX = 240  # the most room a class name gets beside a chart; longer names are shortened, with "…"
COLORS = {"train": "#4c72b0", "val": "#dd8452", "test": "#55a868"}


class ClassChart(QWidget):
    """Stacked horizontal bars (train / validation / test) for each class."""

    class_clicked = Signal(int)

    def __init__(self, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.plot_widget = pg.PlotWidget()
        self.plot = self.plot_widget.getPlotItem()
        self.plot.setMouseEnabled(x=False, y=False)
        self.plot.hideButtons()
        self.plot.showGrid(x=True, y=False, alpha=0.3)
        self.plot.setLabel("bottom", "photos")
        self.plot.invertY(True)
        self.plot.addLegend(offset=(-10, 10))
        self.plot.scene().sigMouseClicked.connect(self._on_click)
        self.plot.scene().sigMouseMoved.connect(self._on_hover)
        self.scroll = QScrollArea()
        self.scroll.setWidgetResizable(True)
        self.scroll.setWidget(self.plot_widget)
        self.scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.scroll)
        self.names: list[str] = []
        self.totals: list[int] = []

    def set_counts(self, names: Sequence[str], counts: dict[str, Sequence[int]]) -> None:
        """``counts`` maps 'train' / 'val' / 'test' to one number per class."""
        legend = self.plot.legend
        if legend is not None:
            clear_legend(legend)  # first: removing a plot item would leave its swatch undeleted
        clear_plot(self.plot)
        self.names = list(names)
        n = len(self.names)
        ys = list(range(n))
        left = [0] * n
        for split, values in counts.items():
            values = list(values)
            if not any(values):
                continue
            label = {"train": "train", "val": "validation", "test": "test"}.get(split, split)
            bars = pg.BarGraphItem(x0=left, y=ys, width=values, height=0.7,
                                   brush=COLORS.get(split, "#888"), pen=None)
            self.plot.addItem(bars)
            if legend is not None:
                legend.addItem(bars, label)
            left = [a + b for a, b in zip(left, values)]
        self.totals = left
        name_axis(self.plot.getAxis("left"), self.names)
        self.plot.setYRange(-0.6, max(n, 1) - 0.4, padding=0)
        self.plot.setXRange(0, max(max(self.totals, default=1), 1) * 1.08, padding=0)
        self.plot_widget.setMinimumHeight(max(200, n * ROW_PX + 70))

    def _row(self, scene_pos) -> Optional[int]:
        if not self.names:
            return None
        y = self.plot.vb.mapSceneToView(scene_pos).y()
        row = int(round(y)) if math.isfinite(y) else -1
        return row if 0 <= row < len(self.names) else None

    def _on_click(self, event) -> None:
        row = self._row(event.scenePos())
        if row is not None:
            self.class_clicked.emit(row)

    def _on_hover(self, scene_pos) -> None:
        """The class under the mouse in full, with its count: a long name is shortened beside the bars."""
        row = self._row(scene_pos)
        tip = f"{self.names[row]}: {self.totals[row]} photos" if row is not None and row < len(self.totals) else ""
        for item in (self.plot.vb, self.plot.getAxis("left")):  # a view's own tooltip is never asked for
            item.setToolTip(tip)


def name_axis(axis: pg.AxisItem, names: Sequence[str], most: int = NAME_PX) -> None:
    """Class names as the ticks of a bar chart's left axis, each in full when it fits in ``most`` pixels,
    else shortened on its own with "…" (never two names run together); the axis as wide as the longest."""
    font = axis.style.get("tickFont") or QFont()
    fm = QFontMetrics(font)
    labels = [fm.elidedText(n, Qt.TextElideMode.ElideRight, most) for n in names]
    axis.setTicks([list(enumerate(labels)), []])
    axis.setWidth(max((fm.horizontalAdvance(t) for t in labels), default=30) + 16)
