"""Reviewing predictions in the gallery: keys to confirm or correct, saved as you go, added to the
dataset, retrained — the labelling loop of the Predict page."""
from __future__ import annotations

import os
import time
from typing import Callable, Optional

from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtWidgets import QComboBox, QFileDialog, QHBoxLayout, QLabel, QPushButton, QWidget

from flowerstudio.core.photos.review import ReviewStore, training_folders
from flowerstudio.gui import engine, messages, settings
from flowerstudio.gui.jobs import Job, run_job
from flowerstudio.gui.pages.predict_output import sort_logs_dir
from flowerstudio.gui.state import AppState
from flowerstudio.gui.widgets.gallery_model import GalleryFilter, GalleryItem, GalleryModel
from flowerstudio.gui.widgets.gallery_view import GalleryView

KEYS = "Enter: the prediction is right · 1–9 or type a class name: set the class · Delete: not reviewed · Ctrl+Z: undo"
SHOW = (("All photos", None), ("Not reviewed", False), ("Reviewed", True))
TYPE_AHEAD_MS = 900  # letters typed within this time make one class name


def store_path() -> str:
    from platformdirs import user_data_dir

    return os.path.join(user_data_dir("FlowerStudio", appauthor=False), "reviews", "labels.jsonl")


class ReviewBar(QWidget):
    """Owns the review store; handles the gallery's review keys; adds reviewed photos and retrains.

    ``classes()`` returns the model's (class folder names, display names). ``model_path()`` the model.
    """

    retrained = Signal(str)  # the new best model

    def __init__(self, state: AppState, view: GalleryView, proxy: GalleryFilter, model: GalleryModel,
                 classes: Callable[[], tuple[list, list]], model_path: Callable[[], Optional[str]],
                 parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.state, self.view, self.proxy, self.gallery_model = state, view, proxy, model
        self._classes, self._model_path = classes, model_path
        self.store = ReviewStore.open(store_path())
        self._undo: list[tuple[str, Optional[str]]] = []
        self._typed = ""
        self._typing = QTimer(self, singleShot=True, interval=TYPE_AHEAD_MS)
        self._typing.timeout.connect(self._forget_typing)
        self.task: Optional[Job] = None
        self.counts = QLabel()
        self.counts.setToolTip(KEYS)
        self.show_box = QComboBox()
        for title, value in SHOW:
            self.show_box.addItem(title, value)
        self.show_box.currentIndexChanged.connect(lambda: self.proxy.set_reviewed(self.show_box.currentData()))
        self.export_btn = QPushButton("Export labels…")
        self.export_btn.clicked.connect(self.choose_csv)
        self.add_btn = QPushButton("Add reviewed to dataset…")
        self.add_btn.setToolTip("Copy the reviewed photos into the training folders of the dataset, as labelled")
        self.add_btn.clicked.connect(self.confirm_add)
        self.retrain_btn = QPushButton("Retrain")
        self.retrain_btn.setToolTip("Train the classifier again with the added photos (seconds: the rest is cached)")
        self.retrain_btn.clicked.connect(self.retrain)
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        for w in (self.counts, QLabel("Show:"), self.show_box):
            lay.addWidget(w)
        lay.addStretch(1)
        for w in (self.export_btn, self.add_btn, self.retrain_btn):
            lay.addWidget(w)
        view.installEventFilter(self)
        if self.store.problem():
            QTimer.singleShot(0, lambda: messages.show_error(self, "Some review labels were not read",
                                                             self.store.problem()))
        self.update_counts()

    # -- decisions ------------------------------------------------------------------------------
    def reviewed_name(self, path: str) -> Optional[str]:
        """The display name of a photo's reviewed class, if it was reviewed with this model's classes."""
        folders, names = self._classes()
        label = self.store.labels.get(path)
        return names[folders.index(label)] if label in folders else None

    def decide(self, item: GalleryItem, class_index: Optional[int]) -> None:
        """Set (or with None clear) the reviewed class of ``item``, save it, go to the next photo."""
        folders, names = self._classes()
        self._undo.append((item.path, self.store.labels.get(item.path)))
        label = folders[class_index] if class_index is not None else None
        self.store.set(item.path, label)
        next_path = self._neighbour_path(item.path)
        item.reviewed = names[class_index] if class_index is not None else None
        self.gallery_model.changed(item.path)
        self._refilter_keeping(next_path if class_index is not None else item.path)
        self.update_counts()

    def undo(self) -> None:
        if not self._undo:
            return
        path, label = self._undo.pop()
        self.store.set(path, label)
        folders, names = self._classes()
        for item in self.gallery_model.items():
            if item.path == path:
                item.reviewed = names[folders.index(label)] if label in folders else None
                self.gallery_model.changed(path)
        self._refilter_keeping(path)
        self.update_counts()

    def update_counts(self) -> None:
        items = self.gallery_model.items()
        done = sum(1 for it in items if it.reviewed)
        self.counts.setText(f"Reviewed <b>{done}</b> of {len(items)}" + (f" · typing: {self._typed}…"
                                                                          if self._typed else ""))
        self.add_btn.setEnabled(bool(done) and self.state.has_dataset() and not self.busy())
        self.export_btn.setEnabled(bool(self.store.labels))
        self.retrain_btn.setEnabled(self.state.has_dataset() and bool(self._model_path()) and not self.busy())

    def busy(self) -> bool:
        return self.task is not None and self.task.running

    # -- keys -----------------------------------------------------------------------------------
    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is not self.view or event.type() != QEvent.Type.KeyPress:
            return False
        index = self.view.currentIndex()
        if not index.isValid() or not self._classes()[0]:
            return False
        item: GalleryItem = self.gallery_model.item(self.proxy.mapToSource(index).row())
        key, text = event.key(), event.text()
        if event.modifiers() & Qt.KeyboardModifier.ControlModifier:
            if key == Qt.Key.Key_Z:
                self.undo()
                return True
            return False
        if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and item.label >= 0:
            self.decide(item, item.label)
        elif key in (Qt.Key.Key_Delete, Qt.Key.Key_Backspace) and not self._typed:
            self.decide(item, None)
        elif text.isdigit() and text != "0" and int(text) <= len(self._classes()[0]):
            self.decide(item, int(text) - 1)
        elif text.isprintable() and text.strip() or (text == " " and self._typed):
            self._type(item, text)
        else:
            return False
        return True

    def _type(self, item: GalleryItem, text: str) -> None:
        """Type-ahead: letters narrow the class names; one left is chosen."""
        self._typed += text.lower()
        self._typing.start()
        names = self._classes()[1]
        matches = [i for i, n in enumerate(names) if n.lower().startswith(self._typed)]
        if len(matches) == 1:
            self._forget_typing()
            self.decide(item, matches[0])
        elif not matches:
            self._forget_typing()
        self.update_counts()

    def _forget_typing(self) -> None:
        self._typed = ""
        self._typing.stop()
        self.update_counts()

    def _neighbour_path(self, path: str) -> Optional[str]:
        row = self.view.currentIndex().row()
        nxt = self.proxy.index(row + 1, 0)
        return self.gallery_model.item(self.proxy.mapToSource(nxt).row()).path if nxt.isValid() else None

    def _refilter_keeping(self, path: Optional[str]) -> None:
        """Filters may hide the photo just reviewed: keep the view on ``path`` (the next one)."""
        self.proxy.set_reviewed(self.show_box.currentData())
        for row in range(self.proxy.rowCount()):
            index = self.proxy.index(row, 0)
            if self.gallery_model.item(self.proxy.mapToSource(index).row()).path == path:
                self.view.setCurrentIndex(index)
                return

    # -- export, add to the dataset, retrain ------------------------------------------------------
    def choose_csv(self) -> None:
        start = os.path.join(settings.get("predict/last_dir", os.path.expanduser("~"), str), "reviewed.csv")
        path, _ = QFileDialog.getSaveFileName(self, "Export reviewed labels", start, "CSV files (*.csv)")
        if path:
            folders, names = self._classes()
            self.store.export_csv(path, dict(zip(folders, names)))

    def reviewed_labels(self) -> dict[str, str]:
        shown = {it.path for it in self.gallery_model.items() if it.reviewed}
        return {p: label for p, label in self.store.labels.items() if p in shown and os.path.exists(p)}

    def confirm_add(self) -> None:
        labels = self.reviewed_labels()
        scan = self.state.scan
        if not labels or scan is None:
            return
        if messages.ask(self, "Add photos to the dataset?",
                        f"Copy {len(labels)} reviewed photos into the training folders of {scan.root}?\n\n"
                        "Existing files are never overwritten, and the copy can be undone (Undo last sort).",
                        yes="Copy", no="Cancel"):
            self.add_to_dataset(labels)

    def add_to_dataset(self, labels: dict[str, str]) -> Job:
        folders = training_folders(self.state.scan)
        log = os.path.join(sort_logs_dir(), time.strftime("add-%Y%m%d-%H%M%S.json"))
        self.task = run_job(engine.add_reviewed, labels, folders, log, title="Adding photos to the dataset",
                            owner=self, on_result=lambda summary: self._on_added(summary, log),
                            on_done=self.update_counts)
        self.update_counts()
        return self.task

    def _on_added(self, summary, log: str) -> None:
        settings.put("predict/last_sort_log", log)  # "Undo last sort" takes it back
        text = summary.summary().replace("Copied", "Added", 1)
        messages.show_info(self, "Photos added", text.splitlines()[0] + ". Retrain to use them.", details=text)

    def retrain(self) -> Optional[Job]:
        model = self._model_path()
        if not model or self.state.scan is None:
            return None
        self.state.set_status("Retraining the classifier with the added photos…")
        self.task = run_job(engine.retrain, model, self.state.scan.root, title="Retraining", owner=self,
                            on_result=self._on_retrained, on_done=self._after_retrain)
        self.update_counts()
        return self.task

    def _on_retrained(self, result) -> None:
        if result.best_path:
            self.retrained.emit(result.best_path)

    def _after_retrain(self) -> None:
        self.state.set_status("")
        self.update_counts()
