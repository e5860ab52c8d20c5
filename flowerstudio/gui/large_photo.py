"""A photo shown as large as its space allows, loaded in the background, with an optional overlay."""
from __future__ import annotations

from typing import Optional

from PySide6.QtCore import Qt
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import QLabel, QSizePolicy, QWidget

from flowerstudio.gui.worker import Task


def _load_large(path: str, size: int) -> QImage:
    from flowerstudio.gui.thumbnails import load_qimage

    return load_qimage(path, size)


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
        self._task: Optional[Task] = None

    def show_path(self, path: Optional[str]) -> None:
        self.path, self._photo, self._override = path, None, None
        self.clear()
        if path is None:
            self.setText(self.EMPTY)
            return
        self.setText("Loading…")
        self._task = Task(_load_large, path, 900, name="large-image", pass_callback=False, pass_cancel=False,
                          parent=self)
        self._task.finished.connect(lambda img, p=path: self._on_image(p, img))
        self._task.start()

    def set_override(self, image: Optional[QImage]) -> None:
        self._override = QPixmap.fromImage(image) if image is not None and not image.isNull() else None
        self._rescale()

    def shown_pixmap(self) -> Optional[QPixmap]:
        return self._override or self._photo

    def wait(self) -> None:
        if self._task is not None:
            self._task.wait()

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

    @property
    def has_photo(self) -> bool:
        return self._photo is not None
