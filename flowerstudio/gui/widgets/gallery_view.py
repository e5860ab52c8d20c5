"""A grid view of thumbnails with one painted delegate (no widget per photo)."""
from __future__ import annotations

from typing import Optional

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QRect, QSize, Qt
from PySide6.QtGui import QColor, QPainter, QPalette, QPen
from PySide6.QtWidgets import QListView, QStyle, QStyledItemDelegate, QStyleOptionViewItem, QWidget

from flowerstudio.gui.widgets.gallery_model import ItemRole, GalleryItem
from flowerstudio.gui import style

GOOD, BAD = QColor(style.GOOD), QColor(style.BAD)


class ThumbnailDelegate(QStyledItemDelegate):
    """Paints a thumbnail, a title line and an optional subtitle line.

    Correct predictions get a green frame, wrong ones a red frame.
    """

    def __init__(self, thumb: int, lines: int = 1, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.thumb = thumb
        self.lines = lines

    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex) -> QSize:
        line = option.fontMetrics.height()
        return QSize(self.thumb + 12, self.thumb + 12 + self.lines * line + 4)

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex) -> None:
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        r = option.rect.adjusted(2, 2, -2, -2)
        pal = option.palette
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        if selected:
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(pal.color(QPalette.ColorRole.Highlight).lighter(160))
            painter.drawRoundedRect(r, 6, 6)
        item: GalleryItem = index.data(ItemRole)
        pix = index.data(Qt.ItemDataRole.DecorationRole)
        box = QRect(r.left() + 4, r.top() + 4, self.thumb, self.thumb)
        if pix is not None and not pix.isNull():
            size = pix.size().scaled(box.size(), Qt.AspectRatioMode.KeepAspectRatio)
            target = QRect(0, 0, size.width(), size.height())
            target.moveCenter(box.center())
            painter.drawPixmap(target, pix)
        if item is not None and item.correct is not None:
            painter.setPen(QPen(GOOD if item.correct else BAD, 4))
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawRoundedRect(box.adjusted(-1, -1, 1, 1), 4, 4)
        if item is not None and item.reviewed:  # a reviewed photo: dimmed, so the ones to do stand out
            painter.fillRect(box, QColor(255, 255, 255, 110))
        fm = option.fontMetrics
        text_rect = QRect(r.left() + 2, box.bottom() + 4, r.width() - 4, fm.height())
        color = pal.color(QPalette.ColorRole.HighlightedText if selected else QPalette.ColorRole.Text)
        if selected:
            color = pal.color(QPalette.ColorRole.Text)
        painter.setPen(color)
        title = index.data(Qt.ItemDataRole.DisplayRole) or ""
        painter.drawText(text_rect, Qt.AlignmentFlag.AlignHCenter,
                         fm.elidedText(title, Qt.TextElideMode.ElideMiddle, text_rect.width()))
        if self.lines > 1 and item is not None and item.subtitle:
            text_rect.translate(0, fm.height())
            if item.correct is not None:
                painter.setPen(GOOD if item.correct else BAD)
            else:
                painter.setPen(pal.color(QPalette.ColorRole.PlaceholderText))
            painter.drawText(text_rect, Qt.AlignmentFlag.AlignHCenter,
                             fm.elidedText(item.subtitle, Qt.TextElideMode.ElideRight, text_rect.width()))
        painter.restore()


class GalleryView(QListView):
    """Icon-mode list tuned for thousands of rows (uniform sizes, batched layout)."""

    def __init__(self, thumb: int = 128, lines: int = 1, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.setViewMode(QListView.ViewMode.IconMode)
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setMovement(QListView.Movement.Static)
        self.setUniformItemSizes(True)
        self.setLayoutMode(QListView.LayoutMode.Batched)
        self.setBatchSize(200)
        self.setSpacing(4)
        self.setWordWrap(False)
        self.setSelectionMode(QListView.SelectionMode.SingleSelection)
        self.setVerticalScrollMode(QListView.ScrollMode.ScrollPerPixel)
        self.verticalScrollBar().setSingleStep(24)
        self.setItemDelegate(ThumbnailDelegate(thumb, lines, self))
