"""A photo shown as large as its space allows, loaded in the background, with an optional overlay."""
from __future__ import annotations

from typing import Optional

from PySide6.QtCore import Qt
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import QLabel, QSizePolicy, QWidget

from flowerstudio.gui.jobs import run_job
from flowerstudio.gui.widgets.thumbnails import load_qimage

SIZE = 900  # pixels on the long side: sharp in a detail panel, quick to decode


class LargePhoto(QLabel):
    """A photo scaled to the label's size; ``set_override`` shows another image (an overlay) instead."""

    EMPTY = "Select a photo to see it here."

    def __init__(self, parent: Optional[QWidget] = None) -> None:
        super().__init__(self.EMPTY, parent)
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setMinimumSize(220, 220)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Ignored)
        self.path: Optional[str] = None
        self._photo: Optional[QPixmap] = None
        self._override: Optional[QPixmap] = None

    def show_path(self, path: Optional[str]) -> None:
        self.path, self._photo, self._override = path, None, None
        self.clear()
        if path is None:
            self.setText(self.EMPTY)
            return
        self.setText("Loading…")
        run_job(load_qimage, path, SIZE, title="Opening the photo", owner=self,
                on_result=lambda img, p=path: self._on_image(p, img))

    def set_override(self, image: Optional[QImage]) -> None:
        self._override = QPixmap.fromImage(image) if image is not None and not image.isNull() else None
        self._rescale()

    def shown_pixmap(self) -> Optional[QPixmap]:
        return self._override or self._photo

    def _on_image(self, path: str, img: QImage) -> None:
        if path != self.path:
            return  # another photo was selected meanwhile
        if img.isNull():
            self.setText("This photo cannot be read.")
            return
        self._photo = QPixmap.fromImage(img)
        self._rescale()

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._rescale()

    def _rescale(self) -> None:
        pix = self.shown_pixmap()
        if pix is None:
            return
        self.setPixmap(pix.scaled(self.size(), Qt.AspectRatioMode.KeepAspectRatio,
                                  Qt.TransformationMode.SmoothTransformation))

