"""List model of photos for thumbnail galleries, plus a filter/sort proxy.

One row per photo; thumbnails come from a shared ThumbnailCache, so the model
holds only small records and scales to thousands of rows.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Optional, Sequence

from PySide6.QtCore import (QAbstractListModel, QModelIndex, QObject, QPersistentModelIndex,
                            QSortFilterProxyModel, Qt)

from flowerstudio.core.foundation.fsnames import display_path
from flowerstudio.gui.widgets.thumbnails import ThumbnailCache

ItemRole = Qt.ItemDataRole.UserRole + 1
PathRole = Qt.ItemDataRole.UserRole + 2
ConfidenceRole = Qt.ItemDataRole.UserRole + 3
StatusRole = Qt.ItemDataRole.UserRole + 4  # True correct, False wrong, None unknown


@dataclass
class GalleryItem:
    """One photo in a gallery: what to show under it and how to colour it."""

    path: str
    title: str = ""
    subtitle: str = ""
    label: int = -1  # predicted class index, -1 when none
    confidence: float = -1.0
    correct: Optional[bool] = None
    payload: Any = None  # e.g. the core Prediction
    reviewed: Optional[str] = None  # the class name the user confirmed or chose
    tooltip: str = ""  # instead of the title, subtitle and path


class GalleryModel(QAbstractListModel):
    """Rows of GalleryItem, decorated lazily with thumbnails."""

    def __init__(self, cache: ThumbnailCache, parent: Optional[QObject] = None) -> None:
        super().__init__(parent)
        self._cache = cache
        self._items: list[GalleryItem] = []
        self._rows: dict[str, list[int]] = {}
        cache.ready.connect(self._on_thumbnail)

    # -- content ---------------------------------------------------------------
    def set_items(self, items: Sequence[GalleryItem]) -> None:
        self._cache.clear_queue()
        self.beginResetModel()
        self._items = list(items)
        self._reindex()
        self.endResetModel()

    def append_items(self, items: Sequence[GalleryItem]) -> None:
        if not items:
            return
        first = len(self._items)
        self.beginInsertRows(QModelIndex(), first, first + len(items) - 1)
        for i, item in enumerate(items):
            self._items.append(item)
            self._rows.setdefault(item.path, []).append(first + i)
        self.endInsertRows()

    def clear(self) -> None:
        self.set_items([])

    def items(self) -> list[GalleryItem]:
        return list(self._items)

    def item(self, row: int) -> GalleryItem:
        return self._items[row]

    def order_by(self, key: Callable[[GalleryItem], Any]) -> None:
        """Rearrange the rows by ``key`` (stable); selections and current rows follow their photos."""
        order = sorted(range(len(self._items)), key=lambda r: key(self._items[r]))
        if order == list(range(len(order))):
            return
        self.layoutAboutToBeChanged.emit()
        new_row = [0] * len(order)
        for new, old in enumerate(order):
            new_row[old] = new
        moved = self.persistentIndexList()
        self._items = [self._items[r] for r in order]
        self._reindex()
        self.changePersistentIndexList(moved, [self.index(new_row[i.row()]) for i in moved])
        self.layoutChanged.emit()

    def _reindex(self) -> None:
        self._rows = {}
        for i, item in enumerate(self._items):
            self._rows.setdefault(item.path, []).append(i)

    # -- Qt model API ------------------------------------------------------------
    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self._items)

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._items):
            return None
        item = self._items[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return f"✔ {item.reviewed}" if item.reviewed else item.title
        if role == Qt.ItemDataRole.DecorationRole:
            pix = self._cache.get(item.path)
            return pix if pix is not None else self._cache.placeholder
        if role == Qt.ItemDataRole.ToolTipRole:
            if item.tooltip:
                return item.tooltip
            tip = display_path(item.path)
            if item.subtitle:
                tip = f"{item.title} — {item.subtitle}\n{tip}"
            return tip
        if role == ItemRole:
            return item
        if role == PathRole:
            return item.path
        if role == ConfidenceRole:
            return item.confidence
        if role == StatusRole:
            return item.correct
        return None

    def changed(self, path: str) -> None:
        """An item of ``path`` was edited in place (e.g. reviewed): repaint it."""
        for row in self._rows.get(path, ()):
            idx = self.index(row)
            self.dataChanged.emit(idx, idx)

    def _on_thumbnail(self, path: str) -> None:
        for row in self._rows.get(path, ()):
            idx = self.index(row)
            self.dataChanged.emit(idx, idx, [Qt.ItemDataRole.DecorationRole])


_WRONG_FIRST = {False: 0, None: 1, True: 2}
# Sort keys run in Python's sort, once per item: a Python ``lessThan`` called by Qt for every
# comparison took 3.5 s on the GUI thread for 10,000 photos.
SORT_KEYS: dict[str, Callable[[GalleryItem], Any]] = {
    "confidence_asc": lambda it: (it.confidence, it.path),
    "confidence_desc": lambda it: (-it.confidence, it.path),
    "name": lambda it: it.path.lower(),
    "wrong_first": lambda it: (_WRONG_FIRST[it.correct], it.confidence, it.path),
}


class GalleryFilter(QSortFilterProxyModel):
    """Filter by predicted class, minimum confidence and review state; the order is the source's,
    which ``configure`` rearranges (``GalleryModel.order_by``)."""

    def __init__(self, parent: Optional[QObject] = None) -> None:
        super().__init__(parent)
        self._label = -1
        self._min_conf = 0.0
        self._only_wrong = False
        self._reviewed: Optional[bool] = None  # None: all; True: only reviewed; False: only not reviewed
        self._sort = "confidence_asc"
        self.setDynamicSortFilter(False)

    def configure(self, *, label: int = -1, min_confidence: float = 0.0, only_wrong: bool = False,
                  sort: str = "confidence_asc") -> None:
        """Set the filters and the order at once: one pass over the rows, not one per setting."""
        self._change(order=True, _label=label, _min_conf=min_confidence, _only_wrong=only_wrong, _sort=sort)

    def set_reviewed(self, reviewed: Optional[bool]) -> None:
        self._change(_reviewed=reviewed)

    def _change(self, order: bool = False, **values: Any) -> None:
        self.beginFilterChange()
        for name, value in values.items():
            setattr(self, name, value)
        self.endFilterChange(QSortFilterProxyModel.Direction.Rows)
        source = self.sourceModel()
        if order and isinstance(source, GalleryModel):
            source.order_by(SORT_KEYS[self._sort])  # the proxy follows the source's new layout

    def filterAcceptsRow(self, source_row: int, source_parent: QModelIndex | QPersistentModelIndex) -> bool:
        item: GalleryItem = self.sourceModel().item(source_row)
        if self._label >= 0 and item.label != self._label:
            return False
        if item.confidence >= 0 and item.confidence < self._min_conf:
            return False
        if self._only_wrong and item.correct is not False:
            return False
        if self._reviewed is not None and (item.reviewed is not None) != self._reviewed:
            return False
        return True
