"""The Predict page's model line: which model is in use, and the buttons to change or export it."""
from __future__ import annotations

import os
from typing import Optional

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QFileDialog, QHBoxLayout, QLabel, QPushButton, QWidget

from flowerstudio.gui import engine, messages, settings
from flowerstudio.gui.dialogs.export_model import ExportDialog
from flowerstudio.gui.jobs import Job, run_job
from flowerstudio.gui.state import AppState
from flowerstudio.gui.style import error_html, esc

PHOTO_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".heic")
NO_MODEL = "No model loaded. Train one, or open a .safetensors model file."


class ModelBar(QWidget):
    """Loads a model file into a core Predictor in the background; ``loaded(path, predictor)`` when ready.

    A file that cannot be used never replaces the model in use: the line keeps naming it.
    """

    loaded = Signal(str, object)

    def __init__(self, state: AppState, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.state = state
        self.model_path: Optional[str] = None
        self.info = None  # core ModelInfo of the model in use
        self.loading: Optional[Job] = None
        self._asked = 0  # loads asked for: a load that a newer one replaced is dropped when it ends
        self.label = QLabel(NO_MODEL)
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        open_btn = QPushButton("Open model…")
        open_btn.clicked.connect(self.choose_model)
        latest_btn = QPushButton("Use latest run")
        latest_btn.setToolTip("The best model of the most recent training run")
        latest_btn.clicked.connect(self.use_latest)
        self.export_btn = QPushButton("Export model…")
        self.export_btn.setToolTip("Save the model as ONNX or TorchScript, for use outside Flower Studio")
        self.export_btn.setEnabled(False)
        self.export_btn.clicked.connect(self.export_model)
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.label, 1)
        for b in (open_btn, latest_btn, self.export_btn):
            lay.addWidget(b)

    def is_busy(self) -> bool:
        return self.loading is not None and self.loading.running

    def choose_model(self) -> None:
        start = os.path.dirname(self.model_path or settings.get("predict/last_model", "", str))
        path, _ = QFileDialog.getOpenFileName(self, "Open a model", start, "Flower Studio models (*.safetensors)")
        if path:
            self.load_model(path)

    def use_latest(self) -> None:
        path = self.state.latest_model()
        if path:
            self.load_model(path)
        else:
            self.label.setText("No finished training run yet — train a model on the Train page first.")

    def load_default(self) -> None:
        """When the page is first shown: the last model used, else the latest run's best."""
        path = settings.get("predict/last_model", "", str)
        if not (path and os.path.isfile(path)):
            path = self.state.latest_model()
        if path:
            self.load_model(path)

    def load_model(self, path: str) -> None:
        from flowerstudio.core.model.model_file import CheckpointError, read_model_info  # no torch: reads the header

        if path.lower().endswith(PHOTO_SUFFIXES):
            self._refuse("This is a photo, not a model (model files end in .safetensors). "
                         "To label photos, add them below.", "")
            return
        try:
            info = read_model_info(path)
        except (CheckpointError, OSError) as exc:
            self._refuse(str(exc), "")
            return
        self._show(path, info, loading=True)  # no old error: this file is fine so far
        self._asked += 1
        self.loading = run_job(engine.load_predictor, path, title="Opening the model", owner=self,
                               on_result=lambda pred, p=path, n=self._asked: self._on_loaded(p, pred, n),
                               on_error=lambda message, details, n=self._asked: self._on_failed(n, message, details))

    def _on_failed(self, asked: int, message: str, details: str) -> None:
        if asked == self._asked:  # not a file the user has since replaced by another
            self._refuse(message, details)

    def _refuse(self, message: str, details: str) -> None:
        note = error_html(f"Cannot use this model: {esc(message)}")
        if self.info is not None and self.model_path:
            self._show(self.model_path, self.info, note=note)
        else:
            self.label.setText(note)
            self.label.setToolTip("")
        messages.show_error(self, "Cannot open model", message, details)

    def _show(self, path: str, info, loading: bool = False, note: str = "") -> None:
        """Plain words on the line; the technical figures (network, size, rounds, temperature) in its tooltip."""
        names = ", ".join(info.display_names[:6]) + (" …" if len(info.display_names) > 6 else "")
        sure = "confidence&nbsp;figures&nbsp;are" + ("" if info.calibrated else "&nbsp;not") + "&nbsp;calibrated"
        self.label.setText(
            (note + "<br>Still using: " if note else "") +
            f"<b>Model:</b> {esc(path)}<br>{len(info.classes)} classes ({esc(names)}) · "
            f"<b>{100 * info.best_val_acc:.1f}%</b>&nbsp;of&nbsp;validation&nbsp;photos&nbsp;right · {sure}"
            + (" · <i>loading…</i>" if loading else ""))
        calibration = (f"Calibrated: temperature T = {info.temperature:.2f} scales the scores so that "
                       "“80% sure” is right about 80% of the time." if info.calibrated
                       else f"Not calibrated: {info.calibration or 'the file was written before calibration existed.'}")
        self.label.setToolTip(f"Network: {info.backbone}, photos resized to {info.input_size} px.\n"
                              f"The best round of training (epoch) was round {info.epoch}.\n{calibration}")

    def _on_loaded(self, path: str, predictor, asked: int) -> None:
        if asked != self._asked:
            return  # the user opened another model meanwhile: that one is used
        self.model_path, self.info = path, predictor.info
        settings.put("predict/last_model", path)
        settings.add_recent("models", path)
        self._show(path, self.info)
        self.export_btn.setEnabled(True)
        self.loaded.emit(path, predictor)

    def export_model(self) -> Optional[ExportDialog]:
        """ONNX or TorchScript export of the model in use."""
        if not self.model_path:
            return None
        dlg = ExportDialog(self.model_path, self)
        dlg.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dlg.open()
        return dlg
