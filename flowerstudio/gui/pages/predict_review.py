"""Reviewing predictions in the gallery: keys to confirm or correct, saved as you go, added to the
dataset, retrained — the labelling loop of the Predict page."""
from __future__ import annotations

import os
from typing import Callable, Optional

from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtWidgets import QComboBox, QFileDialog, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from flowerstudio.core.photos.review import ReviewStore, default_store_path, training_folders
from flowerstudio.core.photos.sort_log import ADD
from flowerstudio.gui import engine, messages, settings
from flowerstudio.gui.dialogs.shortcuts import KeyLegend
from flowerstudio.gui.jobs import Job, run_job
from flowerstudio.gui.state import AppState
from flowerstudio.gui.widgets.gallery_model import GalleryFilter, GalleryItem, GalleryModel
from flowerstudio.gui.widgets.gallery_view import GalleryView

KEYS = "Enter: the prediction is right · 1–9 or type a class name: set the class · Delete: not reviewed · Ctrl+Z: undo"
# The review keys for Help > Keyboard shortcuts (the legend above the photos says the same, with the classes).
KEY_HELP = [("Enter", "The prediction is right"),
            ("1 … 9", "Set the class with that number (the numbers are shown above the photos)"),
            ("Letters", "Type the first letters of a class name to set it (any number of classes)"),
            ("Delete, Backspace", "Not reviewed (clears the class you gave)"),
            ("Ctrl+Z", "Undo the last review")]
SHOW = (("All photos", None), ("Not reviewed", False), ("Reviewed", True))
TYPE_AHEAD_MS = 900  # letters typed within this time make one class name


class ReviewBar(QWidget):
    """Owns the review store; handles the gallery's review keys; adds reviewed photos and retrains.

    ``classes()`` returns the model's (class folder names, display names). ``model_path()`` the model.
    """

    retrained = Signal(str)  # the model to use after a retrain

    def __init__(self, state: AppState, view: GalleryView, proxy: GalleryFilter, model: GalleryModel,
                 classes: Callable[[], tuple[list, list]], model_path: Callable[[], Optional[str]],
                 parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.state, self.view, self.proxy, self.gallery_model = state, view, proxy, model
        self._classes, self._model_path = classes, model_path
        self.store = ReviewStore.open(default_store_path())
        self.kept_retrain: Optional[str] = None  # a retrained model the verdict did not switch to
        self._undo: list[tuple[str, Optional[str]]] = []
        self._typed = ""
        self._typing = QTimer(self, singleShot=True, interval=TYPE_AHEAD_MS)
        self._typing.timeout.connect(self._forget_typing)
        self.task: Optional[Job] = None
        self.counts = QLabel()
        self.counts.setToolTip(KEYS)
        self.legend = KeyLegend(KEYS)
        self.show_box = QComboBox()
        self.show_box.setToolTip("Which photos the gallery shows: all, the ones still to review, or the ones "
                                 "you reviewed")
        for title, value in SHOW:
            self.show_box.addItem(title, value)
        self.show_box.currentIndexChanged.connect(lambda: self.proxy.set_reviewed(self.show_box.currentData()))
        self.export_btn = QPushButton("Export labels…")
        self.export_btn.setToolTip("Save every photo you reviewed and the class you gave it as a table (CSV)")
        self.export_btn.clicked.connect(self.choose_csv)
        self.add_btn = QPushButton("Add reviewed to dataset…")
        self.add_btn.setToolTip("Copy the reviewed photos into the training folders of the dataset, as labelled")
        self.add_btn.clicked.connect(self.confirm_add)
        self.undo_add_btn = QPushButton("Undo add")
        self.undo_add_btn.setToolTip("Take the last added photos out of the dataset again (also after a restart)")
        self.undo_add_btn.clicked.connect(self.undo_add)
        self.retrain_btn = QPushButton("Retrain")
        self.retrain_btn.setToolTip("Train the new layer again with the added photos (seconds: the rest is cached). "
                                    "The better of the two models is used.")
        self.retrain_btn.clicked.connect(self.retrain)
        self.use_retrained_btn = QPushButton("Use the retrained model")
        self.use_retrained_btn.setToolTip("The retrain scored no better than the model in use, which was kept: "
                                          "use the retrained one anyway")
        self.use_retrained_btn.setVisible(False)
        self.use_retrained_btn.clicked.connect(self.use_retrained)
        row = QHBoxLayout()
        row.addWidget(self.counts)
        row.addSpacing(12)
        for w in (QLabel("Show:"), self.show_box):
            row.addWidget(w)
        row.addStretch(1)
        for w in (self.export_btn, self.add_btn, self.undo_add_btn, self.retrain_btn, self.use_retrained_btn):
            row.addWidget(w)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(2)
        lay.addLayout(row)
        lay.addWidget(self.legend)
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
        # Enabled while some reviewed photo here is not in the dataset yet: a photo is added once (core review.py).
        # (a key press lands here: only the photos on screen are looked for on disk)
        waiting = bool(done) and self.state.has_dataset() and bool(
            self.store.to_add(training_folders(self.state.scan), self.shown_reviewed()))
        self.add_btn.setEnabled(waiting and not self.busy())
        self.undo_add_btn.setEnabled(engine.last_log(ADD) is not None and not self.busy())
        self.export_btn.setEnabled(bool(self.store.labels))
        self.retrain_btn.setEnabled(self.state.has_dataset() and bool(self._model_path()) and not self.busy())
        self.legend.set_names(self._classes()[1])

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

    def shown_reviewed(self) -> set[str]:
        """The photos on the page the user has reviewed."""
        return {it.path for it in self.gallery_model.items() if it.reviewed}

    def confirm_add(self) -> None:
        scan = self.state.scan
        if scan is None:
            return
        new = set(self.store.to_add(training_folders(scan), self.shown_reviewed()))
        if not new:
            messages.show_info(self, "Nothing to add", "Every reviewed photo here is in the dataset already.")
            return
        if messages.ask(self, "Add photos to the dataset?",
                        f"Copy {len(new)} reviewed photos into the training folders of {scan.root}?\n\n"
                        "Existing files are never overwritten, a photo is added once however often you press, "
                        "and the copy can be taken back with Undo add.", yes="Copy", no="Cancel"):
            self.add_to_dataset(new)

    def add_to_dataset(self, only: set[str]) -> Job:
        folders = training_folders(self.state.scan)
        self.task = run_job(engine.add_reviewed, self.store, folders, only, title="Adding photos to the dataset",
                            owner=self, on_result=self._on_added, on_done=self.update_counts)
        self.update_counts()
        return self.task

    def _on_added(self, outcome) -> None:
        summary, _log = outcome
        self.state.dataset_changed.emit(True)  # the Dataset page counts them (as training photos of the run)
        text = summary.summary().replace("Copied", "Added", 1)
        messages.show_info(self, "Photos added", text.splitlines()[0] + ". Retrain to use them.", details=text)

    def undo_add(self) -> Optional[Job]:
        log = engine.last_log(ADD)
        if log is None or self.busy():
            return None
        self.task = run_job(engine.undo_add, self.store, log, title="Taking the added photos back", owner=self,
                            on_result=self._on_add_undone, on_done=self.update_counts)
        self.update_counts()
        return self.task

    def _on_add_undone(self, result) -> None:
        self.state.dataset_changed.emit(True)
        messages.show_info(self, "Addition undone", result.summary().splitlines()[0].rstrip(".") + ": they are out "
                           "of the dataset's training folders again.", details=result.summary())

    def retrain(self) -> Optional[Job]:
        model = self._model_path()
        if not model or self.state.scan is None:
            return None
        self.state.set_status("Retraining the new layer with the added photos…")
        self.use_retrained_btn.setVisible(False)
        self.task = run_job(engine.retrain, model, self.state.scan.root, title="Retraining", owner=self,
                            on_result=self._on_retrained, on_done=self._after_retrain)
        self.update_counts()
        return self.task

    def _on_retrained(self, outcome) -> None:
        """Switch only when the core's verdict says the retrained model is better; say so either way."""
        result, verdict = outcome
        if verdict.use_new and result.best_path:
            self.retrained.emit(result.best_path)
        elif result.best_path:
            self.kept_retrain = result.best_path
            self.use_retrained_btn.setVisible(True)
        messages.show_info(self, "Retrained", verdict.message)

    def use_retrained(self) -> None:
        if self.kept_retrain:
            self.retrained.emit(self.kept_retrain)
            self.kept_retrain = None
        self.use_retrained_btn.setVisible(False)

    def _after_retrain(self) -> None:
        self.state.set_status("")
        self.update_counts()
