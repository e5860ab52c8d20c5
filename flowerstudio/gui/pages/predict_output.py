"""Export predictions to CSV, or sort the photos into one folder per class."""
from __future__ import annotations

import os
import time
import weakref
from typing import Callable, Optional

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QCheckBox, QDoubleSpinBox, QFileDialog, QHBoxLayout, QLabel, QPushButton, QWidget

from flowerstudio.gui import engine, messages, settings
from flowerstudio.gui.jobs import Job, run_job


UNDO_KEY = "predict/last_sort_log"


def sort_logs_dir() -> str:
    """Where sort logs are kept: the user's data folder, not the sorted folder (it stays as the user made it)."""
    from platformdirs import user_data_dir

    path = os.path.join(user_data_dir("FlowerStudio", appauthor=False), "sort-logs")
    os.makedirs(path, exist_ok=True)
    return path


class PredictOutput(QWidget):
    """The Predict page's bottom bar. ``source()`` returns the core Predictions to write."""

    sorted = Signal(object)  # core SortSummary
    exported = Signal(str)

    def __init__(self, source: Callable[[], list], parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        # A weak reference: the page owns this bar, and a page <-> bar reference cycle would leave
        # both to Python's collector, which may run on any thread (Qt objects must die on the GUI thread).
        self._source = weakref.WeakMethod(source)
        self.names: list[str] = []  # the model's class names: each class always gets the same folder
        self.export_btn = QPushButton("Export CSV…")
        self.export_btn.clicked.connect(self.choose_csv)
        self.sort_btn = QPushButton("Sort into folders…")
        self.sort_btn.setToolTip("Copy each photo into a folder named after its predicted class")
        self.sort_btn.clicked.connect(self.choose_sort_dest)
        self.threshold = QDoubleSpinBox()
        self.threshold.setRange(0, 100)
        self.threshold.setDecimals(0)
        self.threshold.setSuffix(" %")
        self.threshold.setValue(settings.get("predict/threshold", 60.0, float))
        self.threshold.setToolTip("Photos predicted with less confidence than this go to the _uncertain folder")
        self.move_box = QCheckBox("Move instead of copy")
        self.undo_btn = QPushButton("Undo last sort")
        self.undo_btn.setToolTip("Take back the files the last sort wrote (or move the photos back)")
        self.undo_btn.setEnabled(os.path.isfile(settings.get(UNDO_KEY, "", str)))
        self.undo_btn.clicked.connect(self.undo_last_sort)
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.export_btn)
        lay.addStretch(1)
        lay.addWidget(QLabel("Unsure below:"))
        lay.addWidget(self.threshold)
        lay.addWidget(self.move_box)
        lay.addWidget(self.sort_btn)
        lay.addWidget(self.undo_btn)
        self._busy = False

    def source(self) -> list:
        get = self._source()
        return get() if get is not None else []

    def set_enabled(self, has_items: bool, idle: bool) -> None:
        self.export_btn.setEnabled(has_items)
        self.sort_btn.setEnabled(has_items and idle and not self._busy)

    def choose_csv(self) -> None:
        start = os.path.join(settings.get("predict/last_dir", os.path.expanduser("~"), str), "predictions.csv")
        path, _ = QFileDialog.getSaveFileName(self, "Export predictions", start, "CSV files (*.csv)")
        if path:
            self.export_csv(path)

    def export_csv(self, path: str) -> Job:
        preds = self.source()
        return run_job(engine.write_csv, preds, path, title="Exporting predictions", owner=self,
                       on_result=lambda p: self._on_exported(p, len(preds)))

    def _on_exported(self, path: str, n: int) -> None:
        messages.show_info(self, "Exported", f"Saved {n} predictions to {path}")
        self.exported.emit(path)

    def choose_sort_dest(self) -> None:
        dest = QFileDialog.getExistingDirectory(self, "Sort photos into sub-folders of…",
                                                settings.get("predict/sort_dir", os.path.expanduser("~"), str))
        if not dest:
            return
        settings.put("predict/sort_dir", dest)
        move = self.move_box.isChecked()
        preds = self.source()
        limit = self.threshold.value() / 100.0
        unsure = sum(1 for p in preds if p.confidence < limit)
        folders = len({p.label for p in preds if p.confidence >= limit}) + (1 if unsure else 0)
        verb = "Move" if move else "Copy"
        question = (f"{verb} {len(preds)} photos into {folders} folders in {dest}?\n\n"
                    f"{unsure} predicted with less than {self.threshold.value():.0f}% confidence go to _uncertain. "
                    "Existing files are never overwritten.")
        if move:
            question += "\n\nMoved photos will no longer be where they are now."
        if messages.ask(self, f"{verb} photos?", question, yes=verb, no="Cancel"):
            self.sort_into(dest, move)

    def sort_into(self, dest: str, move: bool = False) -> Job:
        """Copy (or move) every predicted photo; existing files are never overwritten."""
        preds = self.source()
        settings.put("predict/threshold", self.threshold.value())
        self._busy = True
        self.sort_btn.setEnabled(False)
        log = os.path.join(sort_logs_dir(), time.strftime("sort-%Y%m%d-%H%M%S.json"))
        return run_job(engine.sort_into, preds, dest, self.threshold.value() / 100.0, move, list(self.names), log,
                       title="Sorting photos", owner=self,
                       on_result=lambda summary: self._on_sorted(summary, log), on_done=self._on_done)

    def _on_done(self) -> None:
        self._busy = False
        self.sort_btn.setEnabled(True)

    def undo_last_sort(self) -> Job:
        log = settings.get(UNDO_KEY, "", str)
        self.undo_btn.setEnabled(False)
        return run_job(engine.undo_sort, log, title="Undoing the last sort", owner=self,
                       on_result=self._on_undone)

    def _on_undone(self, result) -> None:
        settings.put(UNDO_KEY, "")
        messages.show_info(self, "Sort undone", result.summary().splitlines()[0], details=result.summary())

    def _on_sorted(self, summary, log: str) -> None:
        settings.put(UNDO_KEY, log)
        self.undo_btn.setEnabled(True)
        text = summary.summary()
        messages.show_info(self, "Photos sorted", text.splitlines()[0], details=text)
        self.sorted.emit(summary)
