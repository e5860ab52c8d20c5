"""The selected photo shown large, with its top-k class probabilities as bars."""
from __future__ import annotations

from typing import Optional, Sequence

import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from flowerstudio.gui.widgets.gallery_model import GalleryItem
from flowerstudio.gui.widgets.heatmap import HeatmapToggle
from flowerstudio.gui.widgets.large_photo import LargePhoto
from flowerstudio.gui.style import BAD, GOOD, NEUTRAL
from flowerstudio.gui.widgets.class_chart import name_axis
from flowerstudio.gui.widgets.plot_items import clear_plot



class TopKBars(pg.PlotWidget):
    """Horizontal probability bars, best class on top."""

    def __init__(self, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.plot = self.getPlotItem()
        self.plot.setMouseEnabled(x=False, y=False)
        self.plot.hideButtons()
        self.plot.invertY(True)
        self.plot.setXRange(0, 100, padding=0.02)
        self.plot.setLabel("bottom", "how sure the model is (%)")
        self.plot.showGrid(x=True, y=False, alpha=0.3)
        self.setMinimumHeight(150)
        self.labels: list[str] = []
        self.setVisible(False)  # until a photo is chosen: empty axes (0..1 upside down) only puzzle

    def set_topk(self, topk: Sequence[tuple[str, float]], true_name: Optional[str] = None) -> None:
        clear_plot(self.plot)
        self.labels = [name for name, _ in topk]
        self.setVisible(bool(topk))  # empty axes (0..1 upside down) with no photo selected only puzzle
        if not topk:
            return
        ys = list(range(len(topk)))
        probs = [100.0 * p for _, p in topk]
        brushes = [GOOD if true_name and name == true_name else (BAD if true_name and i == 0 else NEUTRAL)
                   for i, (name, _) in enumerate(topk)]
        self.plot.addItem(pg.BarGraphItem(x0=[0] * len(ys), y=ys, width=probs, height=0.65,
                                          brushes=brushes, pen=None))
        for y, p in zip(ys, probs):
            text = pg.TextItem(f"{p:.1f}%", color="#222", anchor=(0, 0.5))
            text.setPos(min(p, 82) + 1, y)
            self.plot.addItem(text)
        name_axis(self.plot.getAxis("left"), self.labels, most=170)
        self.plot.getAxis("left").setToolTip("\n".join(f"{n}: {p:.1f}%" for n, p in zip(self.labels, probs)))
        self.plot.setYRange(-0.6, len(ys) - 0.4, padding=0)
        self.plot.setXRange(0, 100, padding=0.02)


class PredictDetail(QWidget):
    """Large image (or what the model looked at), verdict line and top-k bars for one prediction."""

    def __init__(self, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.image = LargePhoto()
        self.verdict = QLabel()
        self.verdict.setWordWrap(True)
        self.verdict.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.bars = TopKBars()
        self.heatmap = HeatmapToggle()
        self.heatmap.overlay_changed.connect(self.image.set_override)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.image, 3)
        lay.addWidget(self.heatmap)
        lay.addWidget(self.verdict)
        lay.addWidget(self.bars, 2)
        self._path: Optional[str] = None
        self.model_path: Optional[str] = None  # for the heat map; set by the page

    def set_model_path(self, path: Optional[str]) -> None:
        self.model_path = path
        self.heatmap.set_image(path, self._path)

    def shown_pixmap(self) -> Optional[QPixmap]:
        """The photo, or the heat-map overlay while that is switched on."""
        return self.image.shown_pixmap()

    def show_item(self, item: Optional[GalleryItem], true_name: Optional[str] = None) -> None:
        if item is None:
            self.clear()
            return
        pred = item.payload
        self._path = item.path
        self.image.show_path(item.path)  # drops the old photo's overlay too
        self.heatmap.set_image(self.model_path, item.path)
        lines = [f"<b>{item.title}</b> — {100 * max(item.confidence, 0):.1f}% sure"]
        if item.correct is True:
            lines.append(f"<span style='color:{GOOD}'>✔ correct</span>")
        elif item.correct is False:
            lines.append(f"<span style='color:{BAD}'>✘ wrong — the folder says <b>{true_name}</b></span>")
        lines.append(f"<small>{item.path}</small>")
        self.verdict.setText("<br>".join(lines))
        self.bars.set_topk(list(pred.topk) if pred is not None else [], true_name)

    def clear(self) -> None:
        self._path = None
        self.image.show_path(None)
        self.heatmap.set_image(self.model_path, None)
        self.verdict.clear()
        self.bars.set_topk([])
