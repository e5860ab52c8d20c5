"""Export predictions to CSV, or sort the photos into one folder per class."""
from __future__ import annotations

import os
import weakref
from typing import Callable, Optional

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (QCheckBox, QDialog, QDoubleSpinBox, QFileDialog, QHBoxLayout, QLabel, QPushButton,
                               QWidget)

from flowerstudio.core.photos.sort_log import SORT
from flowerstudio.gui import engine, messages, settings
from flowerstudio.gui.jobs import Job, run_job


class FolderDialog(QFileDialog):
    """Choose a folder, or type the name of a new one (the sort makes it): Qt's own folder dialog refuses a
    folder that does not exist yet. ``chosen`` once accepted."""

    def __init__(self, parent: Optional[QWidget], title: str, start: str) -> None:
        super().__init__(parent, title, start)
        self.setOption(QFileDialog.Option.DontUseNativeDialog)  # the native one may refuse a new name too
        self.setFileMode(QFileDialog.FileMode.Directory)
        self.setOption(QFileDialog.Option.ShowDirsOnly)
        self.setLabelText(QFileDialog.DialogLabel.FileName, "Folder (or a new name):")
        self.setLabelText(QFileDialog.DialogLabel.Accept, "Choose")
        self.chosen = ""

    def accept(self) -> None:
        files = self.selectedFiles()
        path = os.path.abspath(files[0]) if files else ""
        if path and not os.path.exists(path) and os.path.isdir(os.path.dirname(path)):
            self.chosen = path  # a new folder: Qt's check would refuse it
            QDialog.accept(self)
            return
        super().accept()
        self.chosen = self.selectedFiles()[0] if self.result() == QDialog.DialogCode.Accepted else ""


def ask_folder(parent: QWidget, title: str, start: str) -> str:
    """A folder for the sort, existing or new; "" when cancelled."""
    dlg = FolderDialog(parent, title, start)
    try:
        return dlg.chosen if dlg.exec() == QDialog.DialogCode.Accepted else ""
    finally:
        dlg.deleteLater()


class PredictOutput(QWidget):
    """The Predict page's bottom bar. ``source()`` returns the core Predictions to write; ``reviewed()`` the
    display name of the class the user gave each reviewed photo (sorting puts those photos there)."""

    sorted = Signal(object)  # core SortSummary
    exported = Signal(str)

    def __init__(self, source: Callable[[], list], reviewed: Callable[[], dict],
                 parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        # Weak references: the page owns this bar, and a page <-> bar reference cycle would leave
        # both to Python's collector, which may run on any thread (Qt objects must die on the GUI thread).
        self._source = weakref.WeakMethod(source)
        self._reviewed = weakref.WeakMethod(reviewed)
        self.names: list[str] = []  # the model's class names: each class always gets the same folder
        self.export_btn = QPushButton("Export CSV…")
        self.export_btn.setToolTip("Save the photos shown, with their predicted class and how sure the model is, "
                                   "as a table (CSV) for a spreadsheet")
        self.export_btn.clicked.connect(self.choose_csv)
        self.sort_btn = QPushButton("Sort into folders…")
        self.sort_btn.setToolTip("Copy each photo into a folder named after its predicted class (or the class you "
                                 "gave it); choose a folder, or type the name of a new one")
        self.sort_btn.clicked.connect(self.choose_sort_dest)
        self.threshold = QDoubleSpinBox()
        self.threshold.setRange(0, 100)
        self.threshold.setDecimals(0)
        self.threshold.setSuffix(" %")
        self.threshold.setValue(settings.get("predict/threshold", 60.0, float))
        self.threshold.setToolTip("Photos predicted with less confidence than this go to the _uncertain folder")
        self.move_box = QCheckBox("Move instead of copy")
        self.move_box.setToolTip("Move the photos out of where they are now, instead of copying them")
        self.undo_btn = QPushButton("Undo last sort")
        self.undo_btn.setToolTip("Take back the files the last sort wrote (or move the photos back)")
        self.undo_btn.setEnabled(engine.last_log(SORT) is not None)  # a sort's log: undo works after a restart
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

    def reviewed(self) -> dict:
        get = self._reviewed()
        return get() if get is not None else {}

    def set_enabled(self, has_items: bool, idle: bool) -> None:
        self.export_btn.setEnabled(has_items)
        self.sort_btn.setEnabled(has_items and idle and not self._busy)

    def choose_csv(self) -> None:
        start = os.path.join(settings.get("predict/last_dir", os.path.expanduser("~"), str), "predictions.csv")
        path, _ = QFileDialog.getSaveFileName(self, "Export CSV", start, "CSV files (*.csv)")
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
        dest = ask_folder(self, "Sort into a folder", settings.get("predict/sort_dir", os.path.expanduser("~"), str))
        if not dest:
            return
        settings.put("predict/sort_dir", dest)
        move = self.move_box.isChecked()
        question = engine.sort_preview(self.source(), dest, self.threshold.value() / 100.0, move, self.reviewed())
        if move:
            question += "\n\nMoved photos will no longer be where they are now."
        verb = "Move" if move else "Copy"
        if messages.ask(self, f"{verb} photos?", question, yes=verb, no="Cancel"):
            self.sort_into(dest, move)

    def sort_into(self, dest: str, move: bool = False) -> Job:
        """Copy (or move) every predicted photo; existing files are never overwritten."""
        settings.put("predict/threshold", self.threshold.value())
        self._busy = True
        self.sort_btn.setEnabled(False)
        return run_job(engine.sort_into, self.source(), dest, self.threshold.value() / 100.0, move, list(self.names),
                       self.reviewed(), title="Sorting photos", owner=self, on_result=self._on_sorted,
                       on_done=self._on_done)

    def _on_done(self) -> None:
        self._busy = False
        self.sort_btn.setEnabled(True)

    def undo_last_sort(self) -> Optional[Job]:
        log = engine.last_log(SORT)
        if log is None:
            return None
        self.undo_btn.setEnabled(False)
        return run_job(engine.undo_sort, log, title="Undoing the last sort", owner=self, on_result=self._on_undone)

    def _on_undone(self, result) -> None:
        self.undo_btn.setEnabled(engine.last_log(SORT) is not None)
        # One long line: a short one makes a narrow box whose title the window manager cuts ("Sort und…").
        messages.show_info(self, "Sort undone", result.summary().splitlines()[0].rstrip(".") + ": the files the "
                           "last sort wrote are gone again, and moved photos are back where they were.",
                           details=result.summary())

    def _on_sorted(self, outcome) -> None:
        summary, _log = outcome
        self.undo_btn.setEnabled(engine.last_log(SORT) is not None)
        text = summary.summary()
        messages.show_info(self, "Photos sorted", text.splitlines()[0], details=text)
        self.sorted.emit(summary)
