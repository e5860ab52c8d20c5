"""A check box that swaps a photo for its Grad-CAM overlay, computed in the background by the core."""
from __future__ import annotations

from collections import OrderedDict
from typing import Optional

from PySide6.QtCore import Signal
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QCheckBox, QWidget

from flowerstudio.gui import engine
from flowerstudio.gui.jobs import Job, run_job
from flowerstudio.gui.widgets.thumbnails import pil_to_qimage

TEXT = "Show what the model looked at"
MAX_OVERLAYS = 50  # overlays kept, so stepping back through photos is instant


class HeatmapToggle(QCheckBox):
    """"Show what the model looked at": while checked, the view should show the overlay.

    ``overlay_changed(QImage or None)``: show this image instead of the photo; None: show the photo.
    ``set_image(model_path, image_path)`` when the view shows another photo.
    """

    overlay_changed = Signal(object)

    def __init__(self, parent: Optional[QWidget] = None) -> None:
        super().__init__(TEXT, parent)
        self.setToolTip("Colours the parts of the photo that made the model choose its answer\n"
                        "(red = looked at most, blue = ignored). The first photo takes a few seconds, the next a moment.")
        self.setEnabled(False)
        self.model_path: Optional[str] = None
        self.image_path: Optional[str] = None
        self._overlays: OrderedDict[tuple[str, str], QImage] = OrderedDict()
        self._job: Optional[Job] = None
        self.toggled.connect(self._refresh)

    def set_image(self, model_path: Optional[str], image_path: Optional[str]) -> None:
        self.model_path, self.image_path = model_path, image_path
        self.setEnabled(bool(model_path and image_path))
        self._refresh()

    def current_overlay(self) -> Optional[QImage]:
        return self._overlays.get((self.model_path or "", self.image_path or ""))

    def busy(self) -> bool:
        return self._job is not None and self._job.running

    def _refresh(self) -> None:
        if not (self.isChecked() and self.model_path and self.image_path):
            self.setText(TEXT)
            self.overlay_changed.emit(None)
            return
        image = self.current_overlay()
        if image is not None:
            self.setText(TEXT)
            self.overlay_changed.emit(image)
        elif not self.busy():  # one job at a time; the newest photo is asked for when it ends
            self.setText(TEXT + " (working…)")
            key = (self.model_path, self.image_path)
            self._job = run_job(engine.heatmap, self.model_path, self.image_path,
                                title="Showing what the model looked at", owner=self,
                                on_result=lambda img, key=key: self._on_ready(key, img),
                                on_error=self._on_failed, on_done=self._on_done)

    def _on_ready(self, key: tuple[str, str], image) -> None:
        self._overlays[key] = pil_to_qimage(image)
        while len(self._overlays) > MAX_OVERLAYS:
            self._overlays.popitem(last=False)

    def _on_failed(self, message: str, details: str) -> None:
        from flowerstudio.gui import messages

        self.blockSignals(True)
        self.setChecked(False)
        self.blockSignals(False)
        messages.show_error(self, "Cannot show what the model looked at", message, details)

    def _on_done(self) -> None:
        self.setText(TEXT)
        self._refresh()
