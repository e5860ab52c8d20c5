"""Export predictions to CSV, or sort the photos into one folder per class."""
from __future__ import annotations

import os
from typing import Callable, Optional

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QCheckBox, QDoubleSpinBox, QFileDialog, QHBoxLayout, QLabel, QPushButton, QWidget

from flowerstudio.gui import dialogs, predict_jobs, settings
from flowerstudio.gui.worker import Task


class PredictOutput(QWidget):
    """The Predict page's bottom bar. ``source()`` returns the core Predictions to write."""

    sorted = Signal(object)  # core SortSummary
    exported = Signal(str)

    def __init__(self, source: Callable[[], list], parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.source = source
        self.last_sort = None
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
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.export_btn)
        lay.addStretch(1)
        lay.addWidget(QLabel("Unsure below:"))
        lay.addWidget(self.threshold)
        lay.addWidget(self.move_box)
        lay.addWidget(self.sort_btn)
        self._busy = False

    def set_enabled(self, has_items: bool, idle: bool) -> None:
        self.export_btn.setEnabled(has_items)
        self.sort_btn.setEnabled(has_items and idle and not self._busy)

    def choose_csv(self) -> None:
        start = os.path.join(settings.get("predict/last_dir", os.path.expanduser("~"), str), "predictions.csv")
        path, _ = QFileDialog.getSaveFileName(self, "Export predictions", start, "CSV files (*.csv)")
        if path:
            self.export_csv(path)

    def export_csv(self, path: str) -> Task:
        preds = self.source()
        task = Task(predict_jobs.export_csv, preds, path, name="csv", pass_callback=False,
                    pass_cancel=False, parent=self)
        task.finished.connect(lambda p: dialogs.show_info(self, "Exported", f"Saved {len(preds)} predictions to {p}"))
        task.finished.connect(lambda p: self.exported.emit(p))
        task.failed.connect(lambda m, d: dialogs.show_error(self, "Export failed", m, d))
        return task.start()

    def choose_sort_dest(self) -> None:
        dest = QFileDialog.getExistingDirectory(self, "Sort photos into sub-folders of…",
                                                settings.get("predict/sort_dir", os.path.expanduser("~"), str))
        if not dest:
            return
        settings.put("predict/sort_dir", dest)
        move = self.move_box.isChecked()
        if move and not dialogs.ask(self, "Move photos?",
                                    f"Move {len(self.source())} photos out of their folders into {dest}? "
                                    "They will no longer be where they are now.", yes="Move", no="Cancel"):
            return
        self.sort_into(dest, move)

    def sort_into(self, dest: str, move: bool = False) -> Task:
        """Copy (or move) every predicted photo; existing files are never overwritten."""
        preds = self.source()
        settings.put("predict/threshold", self.threshold.value())
        self._busy = True
        self.sort_btn.setEnabled(False)
        task = Task(predict_jobs.sort_into, preds, dest, self.threshold.value() / 100.0, move, name="sort",
                    pass_callback=False, pass_cancel=False, parent=self)
        task.finished.connect(self._on_sorted)
        task.failed.connect(lambda m, d: dialogs.show_error(self, "Sorting failed", m, d))
        task.done.connect(self._on_done)
        return task.start()

    def _on_done(self) -> None:
        self._busy = False
        self.sort_btn.setEnabled(True)

    def _on_sorted(self, summary) -> None:
        self.last_sort = summary
        text = summary.summary()
        dialogs.show_info(self, "Photos sorted", text.splitlines()[0], details=text)
        self.sorted.emit(summary)
