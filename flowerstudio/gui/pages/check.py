"""Check page: how well a model does on labelled photos, class by class, and where it goes wrong."""
from __future__ import annotations

import os
from typing import Optional

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QComboBox, QFileDialog, QGridLayout, QHBoxLayout, QLabel, QLineEdit,
                               QProgressBar, QPushButton, QSplitter, QTabWidget, QVBoxLayout, QWidget)

from flowerstudio.gui import engine, messages, settings
from flowerstudio.gui.jobs import Job, Outcome, run_job
from flowerstudio.gui.state import AppState
from flowerstudio.gui.widgets.class_table import ClassTable
from flowerstudio.gui.widgets.confusion_view import CellPhotos, ConfusionView
from flowerstudio.gui.widgets.mistakes_view import MistakesView
from flowerstudio.gui.widgets.reliability import ReliabilityDiagram
from flowerstudio.gui.widgets.thumbnails import ThumbnailCache
from flowerstudio.gui.style import error_html, esc, model_details

SPLITS = (("auto", "The photos the model never trained on", "Its run's validation photos, or the folder's test "
           "photos: a fair check"), ("val", "Validation photos", "The photos set aside while training, to check it"),
          ("test", "Test photos", "The photos in the folder's test/ sub-folder"),
          ("all", "All photos", "Every photo, those it trained on too: looks better than it is"))
HINT = ("Choose a model and a folder of labelled photos (one sub-folder per class, like the training "
        "folder), then press <b>Evaluate</b>.")


class CheckPage(QWidget):
    """Model + labelled folder in; accuracy, per-class table, confusion matrix and mistakes out."""

    evaluated = Signal(object)  # core EvalReport

    def __init__(self, state: AppState, thumbs: ThumbnailCache, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.state = state
        self.thumbs = thumbs
        self.report = None  # core EvalReport shown
        self.task: Optional[Job] = None
        self._evaluated_model: Optional[str] = None

        self.model_edit = QLineEdit()
        self.model_edit.setPlaceholderText("A trained model (.safetensors)")
        self.model_edit.editingFinished.connect(lambda: self.set_model(self.model_edit.text().strip()))
        self.data_edit = QLineEdit()
        self.data_edit.setPlaceholderText("A folder with one sub-folder of photos per class")
        self.split = QComboBox()
        for key, text, tip in SPLITS:
            self.split.addItem(text, key)
            self.split.setItemData(self.split.count() - 1, tip, Qt.ItemDataRole.ToolTipRole)
        self.model_info = QLabel()
        self.model_info.setStyleSheet("color: palette(placeholder-text);")
        self.eval_btn = QPushButton("Evaluate")
        self.eval_btn.setDefault(True)
        self.eval_btn.clicked.connect(self.evaluate)
        self.stop_btn = QPushButton("Stop")
        self.stop_btn.setEnabled(False)
        self.stop_btn.clicked.connect(self.stop)
        model_btn, data_btn = QPushButton("Browse…"), QPushButton("Browse…")
        model_btn.clicked.connect(self.choose_model)
        data_btn.clicked.connect(self.choose_data)
        form = QGridLayout()
        form.addWidget(QLabel("Model:"), 0, 0)
        form.addWidget(self.model_edit, 0, 1)
        form.addWidget(model_btn, 0, 2)
        form.addWidget(self.model_info, 1, 1, 1, 2)
        form.addWidget(QLabel("Labelled photos:"), 2, 0)
        form.addWidget(self.data_edit, 2, 1)
        form.addWidget(data_btn, 2, 2)
        form.addWidget(QLabel("Check on:"), 3, 0)
        run_row = QHBoxLayout()
        run_row.addWidget(self.split)
        run_row.addStretch(1)
        run_row.addWidget(self.eval_btn)
        run_row.addWidget(self.stop_btn)
        form.addLayout(run_row, 3, 1, 1, 2)

        self.progress = QProgressBar()
        self.progress.setVisible(False)
        self.status = QLabel()
        self.headline = QLabel(HINT)
        self.headline.setWordWrap(True)
        self.headline.setTextFormat(Qt.TextFormat.RichText)
        self.save_btn = QPushButton("Save report…")
        self.save_btn.setToolTip("Write the results as CSV and JSON files into a folder")
        self.save_btn.setVisible(False)
        self.save_btn.clicked.connect(self.choose_report_dir)
        head = QHBoxLayout()
        head.addWidget(self.headline, 1)
        head.addWidget(self.save_btn, 0, Qt.AlignmentFlag.AlignTop)

        self.classes = ClassTable()
        self.classes.class_activated.connect(self._on_class_activated)
        self.confusion = ConfusionView()
        self.confusion.cell_clicked.connect(self.show_cell)
        self.cell_photos = CellPhotos(self.thumbs)
        conf_split = QSplitter(Qt.Orientation.Horizontal)
        conf_split.addWidget(self.confusion)
        conf_split.addWidget(self.cell_photos)
        conf_split.setStretchFactor(0, 3)
        conf_split.setStretchFactor(1, 2)
        self.mistakes = MistakesView(self.thumbs)
        self.tabs = QTabWidget()
        self.tabs.addTab(self.classes, "Classes")
        self.tabs.addTab(conf_split, "Mix-ups")
        self.tabs.setTabToolTip(1, "Which class the model took for which (the confusion matrix)")
        self.tabs.addTab(self.mistakes, "Mistakes")
        self.reliability = ReliabilityDiagram()
        self.tabs.addTab(self.reliability, "How sure vs. how right")
        self.tabs.setVisible(False)

        lay = QVBoxLayout(self)
        lay.addLayout(form)
        lay.addWidget(self.progress)
        lay.addWidget(self.status)
        lay.addLayout(head)
        lay.addWidget(self.tabs, 1)
        lay.addStretch(0)
        state.model_changed.connect(lambda path: self.offer_model(path, state.dataset_root()))

    # -- the window's page interface -------------------------------------------------------------
    def on_shown(self) -> None:
        """When the page is shown: the latest run's best model, if no model is chosen yet."""
        if not self.model_edit.text().strip():
            self.offer_model(self.state.model_path or self.state.latest_model(), replace=False)

    def save_settings(self) -> None:
        """Folders are remembered as they are chosen."""

    # -- inputs ------------------------------------------------------------------------------
    def set_model(self, path: str) -> None:
        """Evaluate this model file next; fills in the folder it was trained on if none is chosen."""
        self.model_edit.setText(path)
        self.model_info.clear()
        if not path:
            return
        if not os.path.isfile(path):
            self.model_info.setText(error_html("This file does not exist."))
            return
        from flowerstudio.core.model.model_file import CheckpointError  # reads the header only: no torch

        try:
            details = model_details(path)
        except (CheckpointError, OSError) as exc:
            details = (f"⚠ {exc}", None)
        self._on_model_details(path, details)

    def offer_model(self, path: Optional[str], folder: str = "", replace: bool = True) -> None:
        """A model from elsewhere in the app (a fresh training run, the model opened for predicting).

        Ignored while an evaluation runs; with ``replace=False`` only fills an empty field.
        """
        if not path or self.is_busy() or (not replace and self.model_edit.text().strip()):
            return
        if folder:
            self.set_data(folder)
        self.set_model(path)  # even the same path: a fine-tune rewrites best.safetensors

    def set_data(self, folder: str) -> None:
        self.data_edit.setText(folder)

    def choose_model(self) -> None:
        start = os.path.dirname(self.model_edit.text()) or settings.get("evaluate/last_dir", "", str)
        path, _ = QFileDialog.getOpenFileName(self, "Choose a model", start, "Flower Studio models (*.safetensors)")
        if path:
            settings.put("evaluate/last_dir", os.path.dirname(path))
            self.set_model(path)

    def choose_data(self) -> None:
        start = self.data_edit.text() or settings.get("evaluate/last_dir", "", str)
        folder = QFileDialog.getExistingDirectory(self, "Choose a folder of labelled photos", start)
        if folder:
            self.set_data(folder)

    def _on_model_details(self, path: str, details: tuple) -> None:
        if path != self.model_edit.text():
            return  # another model was chosen meanwhile
        line, folder = details
        self.model_info.setText(line)
        if folder and not self.data_edit.text():
            self.set_data(folder)

    # -- running -------------------------------------------------------------------------------
    def is_busy(self) -> bool:
        return self.task is not None and self.task.running

    def evaluate(self) -> None:
        model, data = self.model_edit.text().strip(), self.data_edit.text().strip()
        if self.is_busy():
            return
        if not os.path.isfile(model):
            messages.show_error(self, "No model", "Choose a model file to evaluate (a .safetensors file from a "
                               "training run).")
            return
        if not os.path.isdir(data):
            messages.show_error(self, "No photos", "Choose a folder of labelled photos: one sub-folder per class, "
                               "named like the classes the model learned.")
            return
        self.progress.setRange(0, 0)
        self.progress.setVisible(True)
        self.status.setText("Starting… (loading the model)")
        if self.report is None:
            self.headline.clear()  # the how-to hint is done with
        self.eval_btn.setEnabled(False)
        self.stop_btn.setEnabled(True)
        self.task = run_job(engine.evaluate, model, data, self.split.currentData(), title="Evaluation", owner=self,
                            on_event=self._on_event, on_result=lambda report, m=model: self._show(report, m),
                            on_cancelled=lambda _partial: self.status.setText("Stopped before the end — nothing to show."),
                            on_done=self._on_done)

    def stop(self) -> None:
        if self.is_busy():
            self.task.cancel()
            self.status.setText("Stopping…")

    def _on_event(self, ev) -> None:
        from flowerstudio.core.foundation.events import PhaseStarted, Progress  # light: no torch

        if isinstance(ev, PhaseStarted) and ev.phase == "predict":
            self.progress.setRange(0, max(ev.total, 1))
            self.progress.setValue(0)
        elif isinstance(ev, Progress) and ev.phase == "predict":
            self.progress.setRange(0, max(ev.total, 1))
            self.progress.setValue(ev.done)
            self.status.setText(f"Checking photos: {ev.done} of {ev.total}")
        elif isinstance(ev, PhaseStarted) and ev.phase == "scan":
            self.status.setText("Looking through the folder…")

    def _on_done(self) -> None:
        self.progress.setVisible(False)
        self.eval_btn.setEnabled(True)
        self.stop_btn.setEnabled(False)
        if self.task is not None and self.task.outcome is not Outcome.CANCELLED:
            self.status.clear()
        if self.report is None and not self.headline.text():
            self.headline.setText(HINT)

    # -- results -------------------------------------------------------------------------------
    def _show(self, report, model_path: str) -> None:
        self.report, self._evaluated_model = report, model_path
        r = report
        extra = list(r.notes)
        if r.unreadable:
            extra.append(f"{len(r.unreadable)} photos could not be read")
        if r.skipped_classes:
            extra.append(f"{len(r.skipped_classes)} folders are not classes of this model and were left out")
        self.headline.setText(
            f"<span style='font-size:20pt; font-weight:600'>{100 * r.accuracy:.1f}% right</span>"
            f"&nbsp;&nbsp;— {r.correct} of {r.total}: {esc(r.photos_used)}, {len(r.mistakes)} mistakes"
            + (f"<br><small>{esc(' '.join(e if e.endswith('.') else e + '.' for e in extra))}</small>" if extra else ""))
        self.classes.set_rows(r.per_class())
        self.confusion.set_matrix(r.display_names, r.confusion)
        self.cell_photos.clear()
        self.mistakes.set_mistakes(r.mistakes, model_path)
        self.tabs.setTabText(2, f"Mistakes ({len(r.mistakes)})")
        self.reliability.set_bins(r.reliability, r.ece, r.ece_uncalibrated)
        self.tabs.setVisible(True)
        self.save_btn.setVisible(True)
        self.evaluated.emit(report)

    def show_cell(self, true: int, predicted: int) -> None:
        """List the photos of one confusion cell under the matrix."""
        if self.report is None:
            return
        names = self.report.display_names
        photos = self.report.photos(true, predicted)
        what = (f"<b>{esc(names[true])}</b> recognised correctly" if true == predicted
                else f"<b>{esc(names[true])}</b> photos the model took for <b>{esc(names[predicted])}</b>")
        self.cell_photos.set_photos(f"{what}: {len(photos)} photo{'s' if len(photos) != 1 else ''}", photos,
                                    correct=true == predicted)

    def _on_class_activated(self, row: int) -> None:
        if self.report is None:
            return
        counts = self.report.confusion[row]
        wrong = [(n, c) for c, n in enumerate(counts) if c != row and n]
        col = max(wrong)[1] if wrong else row  # where this class goes wrong most, else its right answers
        self.tabs.setCurrentIndex(1)
        self.confusion.select(row, col)
        self.show_cell(row, col)

    # -- report ---------------------------------------------------------------------------------
    def choose_report_dir(self) -> None:
        if self.report is None:
            return
        start = os.path.dirname(self._evaluated_model or "")
        folder = QFileDialog.getExistingDirectory(self, "Save the report into…", start)
        if folder:
            run_job(engine.save_report, self.report, folder, title="Saving the report", owner=self,
                    on_result=lambda outcome: self._on_saved(outcome, folder))

    def _on_saved(self, outcome, folder: str) -> None:
        """Each file the disk took is kept; those it refused are named, with why."""
        files, failed = outcome
        if failed:
            messages.show_error(self, "Some files were not saved", f"Saved {len(files)} files in {folder}; "
                                f"{len(failed)} could not be written.", "\n".join(failed))
        else:
            messages.show_info(self, "Report saved", f"Saved {len(files)} files in {folder}.", "\n".join(files))

