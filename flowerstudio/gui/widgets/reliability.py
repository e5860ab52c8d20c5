"""A reliability diagram: how often the model is right at each confidence it shows (the diagonal is honest)."""
from __future__ import annotations

import math
from typing import Optional, Sequence

import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from flowerstudio.gui import style
from flowerstudio.gui.widgets.plot_items import clear_plot


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
        self.caption = QLabel()
        self.caption.setWordWrap(True)
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
            "On the dashed line, a confidence of 80% means right 8 times in 10. Expected calibration error: "
            f"<b>{100 * ece:.1f} points</b> (raw softmax before calibration: {100 * ece_raw:.1f}).")
