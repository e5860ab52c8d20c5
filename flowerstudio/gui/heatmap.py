"""Grad-CAM overlays computed in the background, and a check box that swaps photo and overlay.

The model is loaded once per file and kept (a large image view asks for one
overlay per selected photo); Grad-CAM hooks the model, so calls on one model
take turns.
"""
from __future__ import annotations

import os
import threading
from collections import OrderedDict
from typing import Optional

from PySide6.QtCore import Signal
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QCheckBox, QWidget

from flowerstudio.gui.worker import Task, import_heavy

_LOCK = threading.Lock()
_MODELS: OrderedDict[tuple, tuple] = OrderedDict()  # (path, mtime) -> (model, info, lock)
MAX_MODELS = 2  # the evaluated model and the prediction page's, at most
TEXT = "Show what the model looked at"


def cached_model(model_path: str):
    """(model, info, lock) for a model file, loaded on CPU the first time (any thread)."""
    key = (os.path.abspath(model_path), os.path.getmtime(model_path))  # a retrained file reloads
    with _LOCK:
        if key in _MODELS:
            _MODELS.move_to_end(key)
            return _MODELS[key]
    import_heavy()
    from flowerstudio.core.checkpoints import load_model

    model, info = load_model(model_path, "cpu")
    with _LOCK:
        entry = _MODELS.setdefault(key, (model, info, threading.Lock()))
        while len(_MODELS) > MAX_MODELS:
            _MODELS.popitem(last=False)
        return entry


def heatmap_overlay(model_path: str, image_path: str, target: Optional[int] = None, alpha: float = 0.45) -> QImage:
    """The photo as the model sees it with the Grad-CAM heat blended over it (red = looked at most)."""
    import_heavy()
    from flowerstudio.core.gradcam import gradcam_for_path, overlay
    from flowerstudio.gui.thumbnails import pil_to_qimage

    model, info, lock = cached_model(model_path)
    with lock:  # Grad-CAM registers a hook on the shared model
        photo, heat = gradcam_for_path(model, info, image_path, target)
    return pil_to_qimage(overlay(photo, heat, alpha))


class HeatmapJob(Task):
    """One overlay in the background; ``finished`` carries a QImage."""

    def __init__(self, model_path: str, image_path: str, target: Optional[int] = None, parent=None) -> None:
        super().__init__(heatmap_overlay, model_path, image_path, target, name="gradcam", pass_callback=False,
                         pass_cancel=False, parent=parent)
        self.model_path, self.image_path = model_path, image_path


class HeatmapToggle(QCheckBox):
    """"Show what the model looked at": while checked, the view should show the overlay.

    ``overlay_changed(QImage or None)``: show this image instead of the photo; None: show the photo.
    ``set_image(model_path, image_path)`` when the view shows another photo.
    """

    overlay_changed = Signal(object)

    def __init__(self, parent: Optional[QWidget] = None) -> None:
        super().__init__(TEXT, parent)
        self.setToolTip("Colours the parts of the photo that made the model choose its answer\n"
                        "(red = looked at most, blue = ignored). It takes a second or two.")
        self.setEnabled(False)
        self.model_path: Optional[str] = None
        self.image_path: Optional[str] = None
        self._overlays: OrderedDict[tuple[str, str], QImage] = OrderedDict()
        self._job: Optional[HeatmapJob] = None
        self.toggled.connect(self._refresh)

    def set_image(self, model_path: Optional[str], image_path: Optional[str]) -> None:
        self.model_path, self.image_path = model_path, image_path
        self.setEnabled(bool(model_path and image_path))
        self._refresh()

    def current_overlay(self) -> Optional[QImage]:
        return self._overlays.get((self.model_path or "", self.image_path or ""))

    def busy(self) -> bool:
        return self._job is not None and self._job.running

    def shutdown(self) -> None:
        if self._job is not None:
            self._job.wait()

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
            self._job = HeatmapJob(self.model_path, self.image_path, parent=self)
            self._job.finished.connect(lambda img, job=self._job: self._on_ready(job, img))
            self._job.failed.connect(self._on_failed)
            self._job.done.connect(self._on_done)
            self._job.start()

    def _on_ready(self, job: HeatmapJob, image: QImage) -> None:
        self._overlays[(job.model_path, job.image_path)] = image
        while len(self._overlays) > 50:
            self._overlays.popitem(last=False)

    def _on_failed(self, message: str, details: str) -> None:
        from flowerstudio.gui import dialogs

        self.blockSignals(True)
        self.setChecked(False)
        self.blockSignals(False)
        dialogs.show_error(self, "Cannot show what the model looked at", message, details)

    def _on_done(self) -> None:
        self.setText(TEXT)
        self._refresh()
