"""One list of the doctor's findings: a gallery of the suspects, the selected one large, what to do about it."""
from __future__ import annotations

from typing import Optional, Sequence

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QSplitter, QVBoxLayout, QWidget

from flowerstudio.gui.widgets.gallery_model import GalleryItem, GalleryModel, ItemRole
from flowerstudio.gui.widgets.gallery_view import GalleryView
from flowerstudio.gui.widgets.large_photo import LargePhoto
from flowerstudio.gui.widgets.thumbnails import ThumbnailCache


class FindingsView(QSplitter):
    """``actions``: (key, button text) pairs; ``acted(key, item)`` when one is pressed for the selected item.

    ``strips`` extra galleries under the photo (typical photos of a class, or the other photo of a pair).
    """

    acted = Signal(str, object)  # action key, GalleryItem (payload: the core finding)
    selected = Signal(object)  # GalleryItem or None: the page says what it is about

    def __init__(self, thumbs: ThumbnailCache, actions: Sequence[tuple[str, str]], strips: int = 0,
                 parent: Optional[QWidget] = None) -> None:
        super().__init__(Qt.Orientation.Horizontal, parent)
        self.gallery_model = GalleryModel(thumbs, self)
        self.view = GalleryView(thumb=thumbs.size, lines=2)
        self.view.setModel(self.gallery_model)
        self.view.selectionModel().currentChanged.connect(self._on_current)
        self.photo = LargePhoto()
        self.text = QLabel()
        self.text.setWordWrap(True)
        self.text.setTextFormat(Qt.TextFormat.RichText)
        self.strip_labels = [QLabel() for _ in range(strips)]
        self.strip_models = [GalleryModel(thumbs, self) for _ in range(strips)]
        self.buttons: dict[str, QPushButton] = {}
        row = QHBoxLayout()
        for key, text in actions:
            btn = QPushButton(text)
            btn.clicked.connect(lambda _=False, k=key: self._act(k))
            row.addWidget(btn)
            self.buttons[key] = btn
        detail = QWidget()
        lay = QVBoxLayout(detail)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.photo, 3)
        lay.addWidget(self.text)
        for label, model in zip(self.strip_labels, self.strip_models):
            strip = GalleryView(thumb=thumbs.size // 2, lines=1)
            strip.setModel(model)
            strip.setFixedHeight(thumbs.size // 2 + 40)
            lay.addWidget(label)
            lay.addWidget(strip)
        lay.addLayout(row)
        self.addWidget(self.view)
        self.addWidget(detail)
        self.setStretchFactor(0, 3)
        self.setStretchFactor(1, 2)
        self._show(None)

    def set_items(self, items: list[GalleryItem]) -> None:
        self.gallery_model.set_items(items)
        if items:
            self.view.setCurrentIndex(self.gallery_model.index(0))
        else:
            self._show(None)

    def current(self) -> Optional[GalleryItem]:
        index = self.view.currentIndex()
        return index.data(ItemRole) if index.isValid() else None

    def remove(self, item: GalleryItem) -> None:
        """A finding dealt with leaves the list; the next one is selected."""
        items = self.gallery_model.items()
        row = items.index(item)
        del items[row]
        self.gallery_model.set_items(items)
        if items:
            self.view.setCurrentIndex(self.gallery_model.index(min(row, len(items) - 1)))
        else:
            self._show(None)

    def set_strip(self, i: int, caption: str, paths: Sequence[str]) -> None:
        self.strip_labels[i].setText(caption)
        self.strip_models[i].set_items([GalleryItem(p) for p in paths])

    def _act(self, key: str) -> None:
        item = self.current()
        if item is not None:
            self.acted.emit(key, item)

    def _on_current(self, current, _previous) -> None:
        self._show(current.data(ItemRole) if current.isValid() else None)

    def _show(self, item: Optional[GalleryItem]) -> None:
        for btn in self.buttons.values():
            btn.setEnabled(item is not None)
        self.photo.show_path(item.path if item is not None else None)
        if item is None:
            self.text.setText("Nothing to review here.")
            for i in range(len(self.strip_models)):
                self.set_strip(i, "", [])
        self.selected.emit(item)
