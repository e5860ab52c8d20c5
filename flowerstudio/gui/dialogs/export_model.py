"""Export a model for other programs (ONNX or TorchScript), checked against the original on real photos."""
from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Optional

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (QComboBox, QDialog, QDialogButtonBox, QFileDialog, QFormLayout,
                               QLabel, QLineEdit, QProgressBar, QPushButton, QVBoxLayout, QWidget)

from flowerstudio.gui import messages
from flowerstudio.gui.style import show_in_folder
from flowerstudio.core.foundation.vocab import ExportFormat
from flowerstudio.gui import engine
from flowerstudio.gui.jobs import Job, run_job
from flowerstudio.gui.style import BAD, GOOD, esc, model_details, with_button



def default_out(model_path: str) -> str:
    """Somewhere the user looks (Documents/Flower Studio exports), named after the run — not inside the
    hidden runs folder. The dialog shows it and the user can change it before anything is written."""
    from PySide6.QtCore import QStandardPaths

    docs = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.DocumentsLocation) or os.path.expanduser("~")
    model = Path(model_path)
    name = model.parent.name if model.stem in ("best", "last") else model.stem  # a run's "best" says little
    return os.path.join(docs, "Flower Studio exports", f"{name}{ExportFormat.ONNX.suffix}")


def plain_number(x: float) -> str:
    """A small difference as a decimal a spreadsheet user reads: 1.07e-06 -> "0.000001", 0.0234 -> "0.02"."""
    if x < 5e-7:
        return "less than 0.000001" if x > 0 else "none"
    return f"{x:.{max(0, -math.floor(math.log10(x)))}f}"


def verdict(result) -> str:
    """The check's outcome in plain words (rich text)."""
    if result.verified is None:
        return "The export was not checked — choose a folder of photos to check it with."
    diff = f"largest difference in a photo's figures: {plain_number(result.max_abs_diff)}"
    if result.verified:
        return (f"<b style='color:{GOOD}'>✔ Check passed</b>: the exported model matches the app's predictions "
                f"({diff}).")
    return (f"<b style='color:{BAD}'>✘ Check failed</b>: the exported model's answers differ from the app's "
            f"({diff}). Try the other format.")


class ExportDialog(QDialog):
    """Choose format, file and check photos; Export runs in the background."""

    def __init__(self, model_path: str, parent: Optional[QWidget] = None, check_folder: str = "") -> None:
        super().__init__(parent)
        self.setWindowTitle("Export the model")
        self.resize(640, 320)
        self.model_path = model_path
        self.task: Optional[Job] = None
        self.result = None
        self.format = QComboBox()
        for fmt in ExportFormat:
            self.format.addItem(fmt.title, fmt.value)
        self.out_edit = QLineEdit(default_out(model_path))
        self.format.currentIndexChanged.connect(self._on_format)
        out_btn = QPushButton("Browse…")
        out_btn.clicked.connect(self.choose_out)
        self.check_edit = QLineEdit(check_folder)
        self.check_edit.setPlaceholderText("Optional: a folder of photos to check the export with")
        self.check_edit.setToolTip("The exported model labels these photos too, and its answers are compared with "
                                   "the app's: the check passes when they match")
        self.format.setToolTip("ONNX works in most programs and languages; TorchScript needs PyTorch")
        check_btn = QPushButton("Browse…")
        check_btn.clicked.connect(self.choose_check)
        form = QFormLayout()
        form.addRow("Model:", QLabel(model_path))
        form.addRow("Format:", self.format)
        form.addRow("Save as:", with_button(self.out_edit, out_btn))
        form.addRow("Check with:", with_button(self.check_edit, check_btn))
        self.progress = QProgressBar()
        self.progress.setRange(0, 0)  # the exporter reports no steps
        self.progress.setVisible(False)
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.details = QLabel()
        self.details.setWordWrap(True)
        self.details.setStyleSheet("color: palette(placeholder-text);")
        self.details.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.export_btn = QPushButton("Export")
        self.export_btn.setDefault(True)
        self.export_btn.clicked.connect(self.export)
        self.folder_btn = QPushButton("Show in folder")
        self.folder_btn.setEnabled(False)
        self.folder_btn.clicked.connect(lambda: self.result and show_in_folder(self.result.path))
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.addButton(self.folder_btn, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.addButton(self.export_btn, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.rejected.connect(self.reject)
        lay = QVBoxLayout(self)
        lay.addLayout(form)
        lay.addWidget(self.progress)
        lay.addWidget(self.status)
        lay.addWidget(self.details)
        lay.addStretch(1)
        lay.addWidget(buttons)
        if not check_folder:
            self._prefill_check_folder()

    def _prefill_check_folder(self) -> None:
        """The photos the model was trained on make a good check (read from the file's header; no torch)."""
        from flowerstudio.core.model.model_file import CheckpointError

        try:
            self._on_details(model_details(self.model_path))
        except (CheckpointError, OSError):
            pass  # the export itself reports a bad file

    def _on_details(self, details: tuple) -> None:
        folder = details[1]
        if folder and not self.check_edit.text():
            self.check_edit.setText(folder)

    def _on_format(self) -> None:
        fmt = self.format.currentData()
        old = self.out_edit.text()
        # Swap the file ending only for a name that still ends like one of ours.
        for other in ExportFormat:
            if old.endswith(other.suffix):
                self.out_edit.setText(old[: -len(other.suffix)] + ExportFormat(fmt).suffix)
                return

    def choose_out(self) -> None:
        suffix = ExportFormat(self.format.currentData()).suffix
        path, _ = QFileDialog.getSaveFileName(self, "Save the export as", self.out_edit.text(),
                                              f"Exported model (*{suffix})")
        if path:
            self.out_edit.setText(path if path.endswith(suffix) else path + suffix)

    def choose_check(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Photos to check with", self.check_edit.text())
        if folder:
            self.check_edit.setText(folder)

    def export(self) -> None:
        if self.task is not None and self.task.running:
            return
        out, check = self.out_edit.text().strip(), self.check_edit.text().strip()
        if not out:
            messages.show_error(self, "No file name", "Choose where to save the exported model.")
            return
        if check and not os.path.isdir(check):
            messages.show_error(self, "No such folder", f"The folder of photos to check with does not exist:\n{check}")
            return
        self.export_btn.setEnabled(False)
        self.folder_btn.setEnabled(False)
        self.progress.setVisible(True)
        self.status.setText("Exporting… this can take a minute." + (" Then checking it on your photos." if check
                                                                    else ""))
        self.details.clear()
        overwrite = os.path.exists(out)
        if overwrite and not messages.ask(self, "Replace the file?", f"{out} exists already. Replace it?",
                                          yes="Replace", no="Cancel"):
            return
        self.task = run_job(engine.export_model, self.model_path, out, self.format.currentData(), check, overwrite,
                            title="Export", owner=self, on_result=self._on_result, on_error=self._on_failed,
                            on_done=self._on_done)

    def _on_result(self, result) -> None:
        self.result = result
        self.status.setText(f"Saved <b>{esc(os.path.basename(result.path))}</b> and its description file "
                            f"<b>{esc(os.path.basename(result.sidecar_json_path))}</b> (the photo size, colours and "
                            f"class names a program needs to use it).<br>{verdict(result)}")
        self.details.setText(f"In {esc(os.path.dirname(result.path))}")
        self.details.setToolTip(result.message)  # the exporter's own words, figures and all
        self.folder_btn.setEnabled(True)

    def _on_failed(self, message: str, details: str) -> None:
        self.status.setText(f"<b style='color:{BAD}'>The export failed.</b>")
        messages.show_error(self, "Export failed", message, details)

    def _on_done(self) -> None:
        self.progress.setVisible(False)
        self.export_btn.setEnabled(True)

