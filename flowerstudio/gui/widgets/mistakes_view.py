"""The wrong photos, most confident mistake first, and the selected one shown large."""
from __future__ import annotations

from typing import Optional, Sequence

from PySide6.QtCore import QModelIndex, Qt
from PySide6.QtWidgets import (QHBoxLayout, QLabel, QPushButton, QSplitter, QVBoxLayout,
                               QWidget)

from flowerstudio.gui.style import BAD, open_file, show_in_folder
from flowerstudio.gui.widgets.gallery_model import GalleryItem, GalleryModel, ItemRole
from flowerstudio.gui.widgets.gallery_view import GalleryView
from flowerstudio.gui.widgets.heatmap import HeatmapToggle
from flowerstudio.gui.widgets.large_photo import LargePhoto
from flowerstudio.gui.widgets.thumbnails import ThumbnailCache

class PhotoDetail(QWidget):
    """Large photo, what went wrong, the Grad-CAM switch and file actions."""

    def __init__(self, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.photo = LargePhoto()
        self.text = QLabel()
        self.text.setWordWrap(True)
        self.text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.heatmap = HeatmapToggle()
        self.heatmap.overlay_changed.connect(self.photo.set_override)
        self.open_btn = QPushButton("Open file")
        self.folder_btn = QPushButton("Show in folder")
        self.open_btn.clicked.connect(lambda: self.photo.path and open_file(self.photo.path))
        self.folder_btn.clicked.connect(lambda: self.photo.path and show_in_folder(self.photo.path))
        buttons = QHBoxLayout()
        buttons.addWidget(self.open_btn)
        buttons.addWidget(self.folder_btn)
        buttons.addStretch(1)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.photo, 1)
        lay.addWidget(self.heatmap)
        lay.addWidget(self.text)
        lay.addLayout(buttons)
        self.model_path: Optional[str] = None
        self.show_item(None)

    def show_item(self, item: Optional[GalleryItem]) -> None:
        path = item.path if item is not None else None
        self.photo.show_path(path)
        self.heatmap.set_image(self.model_path, path)
        self.open_btn.setEnabled(path is not None)
        self.folder_btn.setEnabled(path is not None)
        if item is None:
            self.text.setText("")
            return
        m = item.payload
        self.text.setText(f"It is <b>{m.true_name}</b>, but the model said "
                          f"<b style='color:{BAD}'>{m.predicted_name}</b> ({100 * m.confidence:.0f}% sure).<br>"
                          f"<small>{m.path}</small>")


class MistakesView(QSplitter):
    """Gallery of core Mistakes (red frames) beside the selected one's detail."""

    def __init__(self, thumbs: ThumbnailCache, parent: Optional[QWidget] = None) -> None:
        super().__init__(Qt.Orientation.Horizontal, parent)
        self.model = GalleryModel(thumbs, self)
        self.view = GalleryView(thumb=thumbs.size, lines=2)
        self.view.setModel(self.model)
        self.view.selectionModel().currentChanged.connect(self._on_current)
        self.view.doubleClicked.connect(lambda idx: open_file(idx.data(ItemRole).path))
        self.view.setToolTip("Double-click a photo to open it")
        self.empty = QLabel("No mistakes — every photo was recognised correctly.")
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty.setVisible(False)
        left = QWidget()
        lay = QVBoxLayout(left)
        lay.setContentsMargins(0, 0, 0, 0)
        self.caption = QLabel("Wrong answers, the most confident mistake first:")
        lay.addWidget(self.caption)
        lay.addWidget(self.view, 1)
        lay.addWidget(self.empty)
        self.detail = PhotoDetail()
        self.addWidget(left)
        self.addWidget(self.detail)
        self.setStretchFactor(0, 3)
        self.setStretchFactor(1, 2)

    def set_mistakes(self, mistakes: Sequence, model_path: Optional[str]) -> None:
        self.detail.model_path = model_path
        self.model.set_items([GalleryItem(m.path, f"said {m.predicted_name}",
                                          f"{100 * m.confidence:.0f}% · is {m.true_name}",
                                          confidence=m.confidence, correct=False, payload=m) for m in mistakes])
        self.empty.setVisible(not mistakes)
        self.view.setVisible(bool(mistakes))
        self.caption.setVisible(bool(mistakes))
        if mistakes:
            self.view.setCurrentIndex(self.model.index(0))
        else:
            self.detail.show_item(None)

    def mistakes(self) -> list:
        return [it.payload for it in self.model.items()]

    def _on_current(self, current: QModelIndex, _previous: QModelIndex) -> None:
        self.detail.show_item(current.data(ItemRole) if current.isValid() else None)
