"""How sure the model says it is against how often it is right, at each confidence it shows (a reliability
diagram: on the diagonal, the confidence is honest). Plain words; the technical ones in the tooltip."""
from __future__ import annotations

import math
from typing import Optional, Sequence

import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from flowerstudio.gui import style
from flowerstudio.gui.widgets.plot_items import clear_plot


TIP = ("A reliability diagram of the confidences the app shows (calibrated with a temperature). The average gap "
       "is their expected calibration error (ECE); in brackets, that of the raw softmax, before calibration.")


class ReliabilityDiagram(QWidget):
    def __init__(self, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.plot_widget = pg.PlotWidget()
        self.plot = self.plot_widget.getPlotItem()
        self.plot.setLabel("bottom", "confidence the app shows (%)")
        self.plot.setLabel("left", "photos right (%)")
        self.plot.setMouseEnabled(x=False, y=False)
        self.plot.hideButtons()
        self.plot.showGrid(x=True, y=True, alpha=0.25)
        self.plot.setXRange(0, 100, padding=0.02)
        self.plot.setYRange(0, 100, padding=0.02)
        self.plot_widget.setToolTip(TIP)
        self.caption = QLabel()
        self.caption.setWordWrap(True)
        self.caption.setToolTip(TIP)
        lay = QVBoxLayout(self)
        lay.addWidget(self.caption)
        lay.addWidget(self.plot_widget, 1)
        self.points: list[tuple[float, float]] = []

    def set_bins(self, bins: Sequence, ece: float, ece_raw: float) -> None:
        """``bins``: core ReliabilityBin list of the confidences shown (calibrated)."""
        clear_plot(self.plot)
        self.plot.addItem(pg.PlotDataItem([0, 100], [0, 100], pen=pg.mkPen(style.STAGE, style=Qt.PenStyle.DashLine)))
        self.points = [(100 * b.confidence, 100 * b.accuracy) for b in bins if b.count and not math.isnan(b.accuracy)]
        xs, ys = [p[0] for p in self.points], [p[1] for p in self.points]
        self.plot.addItem(pg.PlotDataItem(xs, ys, pen=pg.mkPen(style.NEUTRAL, width=2), symbol="o",
                                          symbolBrush=style.NEUTRAL, symbolSize=7))
        self.caption.setText(
            "Each point: the photos the model was about that sure of, and how many of them it got right. On the "
            "dashed line it is as sure as it is right (80 % sure: right 8 times in 10). On average it is off by "
            f"<b>{100 * ece:.1f} points</b> ({100 * ece_raw:.1f} before Flower Studio adjusted its confidences).")
