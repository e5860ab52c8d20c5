"""The confusion matrix as a zoomable table: rows are the true class, columns the model's answer.

Colours are normalised per row (the share of that class's photos), so a rare
class reads as clearly as a common one: green on the diagonal (right), red off it.
"""
from __future__ import annotations

import os
from typing import Any, Optional, Sequence

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, QRect, QSize, Qt, Signal
from PySide6.QtGui import QColor, QPainter, QPalette
from PySide6.QtWidgets import (QAbstractItemView, QHBoxLayout, QHeaderView, QLabel, QSlider, QTableView,
                               QVBoxLayout, QWidget)

from flowerstudio.gui.widgets.gallery_model import GalleryItem, GalleryModel, ItemRole
from flowerstudio.gui.widgets.gallery_view import GalleryView
from flowerstudio.gui.style import open_file
from flowerstudio.gui.widgets.thumbnails import ThumbnailCache
from flowerstudio.core.foundation.fsnames import display_path
from flowerstudio.gui.style import BAD, GOOD

RIGHT, WRONG = QColor(GOOD), QColor(BAD)
NAME_CHARS = 28  # longer class names are cut in the headers (the tooltip has the full name)


def short(name: str) -> str:
    return name if len(name) <= NAME_CHARS else name[:NAME_CHARS - 1] + "…"


def blend(color: QColor, share: float) -> QColor:
    """White for 0, ``color`` for 1 (a light tint stays visible for small shares)."""
    t = 0.0 if share <= 0 else 0.15 + 0.85 * min(share, 1.0)
    return QColor(round(255 + (color.red() - 255) * t), round(255 + (color.green() - 255) * t),
                  round(255 + (color.blue() - 255) * t))


class ConfusionModel(QAbstractTableModel):
    """Counts per (true, predicted) with colours, counts as text and plain-words tooltips."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.names: list[str] = []
        self.counts: list[list[int]] = []
        self._row_totals: list[int] = []
        self.show_counts = True

    def set_matrix(self, names: Sequence[str], counts: Sequence[Sequence[int]]) -> None:
        self.beginResetModel()
        self.names = list(names)
        self.counts = [list(map(int, row)) for row in counts]
        self._row_totals = [sum(row) for row in self.counts]
        self.endResetModel()

    def share(self, row: int, col: int) -> float:
        total = self._row_totals[row]
        return self.counts[row][col] / total if total else 0.0

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.counts)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.counts)

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        r, c = index.row(), index.column()
        n = self.counts[r][c]
        if role == Qt.ItemDataRole.DisplayRole:
            return str(n) if n and self.show_counts else None
        if role == Qt.ItemDataRole.BackgroundRole:
            return blend(RIGHT if r == c else WRONG, self.share(r, c))
        if role == Qt.ItemDataRole.ForegroundRole:
            return QColor("white") if self.share(r, c) > 0.55 else QColor("#222")
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return Qt.AlignmentFlag.AlignCenter
        if role == Qt.ItemDataRole.ToolTipRole:
            return self.tooltip(r, c)
        if role == Qt.ItemDataRole.UserRole:
            return n
        return None

    def tooltip(self, r: int, c: int) -> str:
        n, photos = self.counts[r][c], "photo" if self.counts[r][c] == 1 else "photos"
        share = f" ({100 * self.share(r, c):.0f}% of {self.names[r]})" if self._row_totals[r] else ""
        if r == c:
            return f"{self.names[r]} recognised correctly: {n} {photos}{share}"
        return f"{self.names[r]} taken for {self.names[c]}: {n} {photos}{share}"

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not 0 <= section < len(self.names):
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return short(self.names[section])
        if role == Qt.ItemDataRole.ToolTipRole:
            kind = "Real class" if orientation == Qt.Orientation.Vertical else "The model said"
            return f"{kind}: {self.names[section]}"
        return None


class RotatedHeader(QHeaderView):
    """A horizontal header with its names written bottom-up, so 100 columns stay narrow."""

    def __init__(self, parent: Optional[QWidget] = None) -> None:
        super().__init__(Qt.Orientation.Horizontal, parent)
        self.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        self.setSectionsClickable(False)

    def sizeHint(self) -> QSize:
        model = self.model()
        fm = self.fontMetrics()
        widest = max((fm.horizontalAdvance(str(model.headerData(i, Qt.Orientation.Horizontal)))
                      for i in range(model.columnCount())), default=40) if model else 40
        return QSize(super().sizeHint().width(), widest + 12)

    def paintSection(self, painter: QPainter, rect: QRect, section: int) -> None:
        if not rect.isValid():
            return
        painter.save()
        painter.fillRect(rect, self.palette().window())
        painter.setPen(self.palette().mid().color())
        painter.drawLine(rect.topRight(), rect.bottomRight())
        painter.setPen(self.palette().windowText().color())
        painter.translate(rect.left(), rect.bottom())
        painter.rotate(-90)
        text = str(self.model().headerData(section, Qt.Orientation.Horizontal))
        # Rotated: x runs up the header, y across the column.
        painter.drawText(QRect(6, 0, rect.height() - 8, rect.width()),
                         int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter), text)
        painter.restore()


class ConfusionView(QWidget):
    """The table, a zoom slider and a caption; ``cell_clicked(true, predicted)`` on a click."""

    cell_clicked = Signal(int, int)

    def __init__(self, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.matrix_model = ConfusionModel(self)
        self.table = QTableView()
        self.table.setHorizontalHeader(RotatedHeader(self.table))
        self.table.setModel(self.matrix_model)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setShowGrid(True)
        self.table.setGridStyle(Qt.PenStyle.SolidLine)
        self.table.setStyleSheet("QTableView { gridline-color: #e6e6e6; }"
                                 "QTableView::item:selected { border: 2px solid #222; }")
        pal = self.table.palette()
        # A faint selection keeps the cell's colour readable under it.
        for group in (QPalette.ColorGroup.Active, QPalette.ColorGroup.Inactive):
            pal.setColor(group, QPalette.ColorRole.Highlight, QColor(0, 0, 0, 40))
            pal.setColor(group, QPalette.ColorRole.HighlightedText, QColor("#111"))
        self.table.setPalette(pal)
        self.table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        self.table.clicked.connect(self._emit)
        # Arrow keys move through the cells too.
        self.table.selectionModel().currentChanged.connect(lambda cur, _prev: self._emit(cur))
        self.zoom = QSlider(Qt.Orientation.Horizontal)
        self.zoom.setRange(8, 56)
        self.zoom.setFixedWidth(160)
        self.zoom.setToolTip("Make the squares bigger or smaller")
        self.zoom.valueChanged.connect(self.set_cell_size)
        caption = QLabel("Rows: the real class · columns: what the model said · green = right, red = wrong. "
                         "Click a square to see its photos.")
        caption.setToolTip("A confusion matrix: each square counts the photos of its row's class the model gave "
                           "its column's class. The colour is the share of the row.")
        caption.setWordWrap(True)
        top = QHBoxLayout()
        top.addWidget(caption, 1)
        top.addWidget(QLabel("Size:"))
        top.addWidget(self.zoom)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addLayout(top)
        lay.addWidget(self.table, 1)

    def set_matrix(self, names: Sequence[str], counts: Sequence[Sequence[int]]) -> None:
        self.matrix_model.set_matrix(names, counts)
        n = len(names)
        # Big squares with counts for a few classes; small ones (and scrolling) for a hundred.
        self.zoom.setValue(44 if n <= 8 else 32 if n <= 20 else 16)
        self.set_cell_size(self.zoom.value())

    def set_cell_size(self, px: int) -> None:
        self.matrix_model.show_counts = px >= 20  # no room for digits below that
        self.table.horizontalHeader().setDefaultSectionSize(px)
        self.table.verticalHeader().setDefaultSectionSize(px)
        self.table.horizontalHeader().setMinimumSectionSize(min(px, 8))
        self.table.verticalHeader().setMinimumSectionSize(min(px, 8))
        self.table.horizontalHeader().setFixedHeight(self.table.horizontalHeader().sizeHint().height())
        self.table.viewport().update()

    def _emit(self, index) -> None:
        if index.isValid():
            self.cell_clicked.emit(index.row(), index.column())

    def select(self, row: int, col: int) -> None:
        self.table.setCurrentIndex(self.matrix_model.index(row, col))


class CellPhotos(QWidget):
    """The photos of the clicked cell: a caption over a thumbnail grid (double-click opens one)."""

    HINT = "Click a square of the matrix to see its photos here."

    def __init__(self, thumbs: ThumbnailCache, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.caption = QLabel(self.HINT)
        self.caption.setWordWrap(True)
        self.gallery_model = GalleryModel(thumbs, self)
        self.view = GalleryView(thumb=thumbs.size, lines=1)
        self.view.setModel(self.gallery_model)
        self.view.setToolTip("Double-click a photo to open it")
        self.view.doubleClicked.connect(lambda idx: open_file(idx.data(ItemRole).path))
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.caption)
        lay.addWidget(self.view, 1)

    def set_photos(self, caption: str, paths: Sequence[str], correct: bool) -> None:
        self.caption.setText(caption)
        self.gallery_model.set_items([GalleryItem(p, display_path(os.path.basename(p)), correct=correct) for p in paths])

    def clear(self) -> None:
        self.caption.setText(self.HINT)
        self.gallery_model.clear()

    def paths(self) -> list[str]:
        return [it.path for it in self.gallery_model.items()]
