"""Per-class results as a sortable, searchable table (stays quick with hundreds of classes)."""
from __future__ import annotations

import math
from typing import Any, Optional, Sequence

from PySide6.QtCore import (QAbstractTableModel, QModelIndex, QPersistentModelIndex, QSortFilterProxyModel, Qt,
                            Signal)
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QLineEdit, QTableView, QVBoxLayout, QWidget

from flowerstudio.gui.widgets.confusion_view import RIGHT, WRONG, blend

FAIR = QColor("#e0a800")  # between right and wrong: worth a look
COLUMNS = ("Class", "Photos", "Right", "Accuracy", "Most often mistaken for")
HEADER_TIPS = ("The class (its folder's name, or the name it was given)", "Photos of this class that were checked",
               "Of them, the photos the model got right", "The share it got right: worst classes first",
               "When wrong, the class the model most often said instead")
SortRole = Qt.ItemDataRole.UserRole + 1


class ClassTableModel(QAbstractTableModel):
    """One row per class from ``EvalReport.per_class()``."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.rows: list[dict] = []

    def set_rows(self, rows: Sequence) -> None:
        self.beginResetModel()
        self.rows = list(rows)
        self.endResetModel()

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(COLUMNS)

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        row, col = self.rows[index.row()], index.column()
        # numpy numbers would reach Qt as opaque objects that never sort: plain floats.
        acc = float(row.accuracy) if row.accuracy is not None else math.nan
        known = not math.isnan(acc)
        if role == Qt.ItemDataRole.DisplayRole:
            return (row.name, row.photos, row.correct, f"{100 * acc:.1f}%" if known else "—",
                    row.most_confused_with or "—")[col]
        if role == SortRole:
            # Classes without photos sort below every measured one.
            return (row.name.lower(), int(row.photos), int(row.correct), acc if known else -1.0,
                    (row.most_confused_with or "").lower())[col]
        if role == Qt.ItemDataRole.BackgroundRole and col == 3 and known:
            return blend(RIGHT if acc >= 0.9 else FAIR if acc >= 0.7 else WRONG, 0.3)
        if role == Qt.ItemDataRole.TextAlignmentRole and col in (1, 2, 3):
            return Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
        if role == Qt.ItemDataRole.ToolTipRole:
            if not row.photos:
                return f"No {row.name} photos were checked."
            text = f"{row.name} (folder '{row.folder}'): {row.correct} of {row.photos} photos right"
            if row.most_confused_with:
                text += f"; when wrong, most often taken for {row.most_confused_with}"
            return text
        if role == Qt.ItemDataRole.ForegroundRole and not row.photos:
            return QColor("#888")
        return None

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.ToolTipRole:
            return HEADER_TIPS[section]
        return None


class ClassTable(QWidget):
    """A search box over the sortable table; ``class_activated(index)`` on a double-click."""

    class_activated = Signal(int)

    def __init__(self, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.table_model = ClassTableModel(self)
        self.proxy = QSortFilterProxyModel(self)
        self.proxy.setSourceModel(self.table_model)
        self.proxy.setSortRole(SortRole)
        self.proxy.setFilterKeyColumn(0)
        self.proxy.setFilterCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.search = QLineEdit()
        self.search.setPlaceholderText("Find a class…")
        self.search.setClearButtonEnabled(True)
        self.search.textChanged.connect(self.proxy.setFilterFixedString)
        self.view = QTableView()
        self.view.setModel(self.proxy)
        self.view.setSortingEnabled(True)
        self.view.setAlternatingRowColors(True)
        self.view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.view.verticalHeader().setVisible(False)
        self.view.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 8)
        head = self.view.horizontalHeader()
        head.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        head.setStretchLastSection(True)
        self.view.doubleClicked.connect(lambda idx: self.class_activated.emit(self.proxy.mapToSource(idx).row()))
        self.view.setToolTip("Click a column title to sort; double-click a class to see its photos")
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.search)
        lay.addWidget(self.view, 1)

    def set_rows(self, rows: Sequence) -> None:
        self.table_model.set_rows(rows)
        # Worst classes first: that is where to look.
        self.view.sortByColumn(3, Qt.SortOrder.AscendingOrder)
        self.view.resizeColumnsToContents()
        self.view.setColumnWidth(0, max(180, min(self.view.columnWidth(0), 320)))
