"""Predict page: load a model, add photos, review predictions, export or sort them."""
from __future__ import annotations

import os
from typing import Optional

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (QFileDialog, QHBoxLayout, QLabel,
                               QProgressBar, QPushButton, QSplitter, QVBoxLayout, QWidget)

from flowerstudio.core.foundation.events import BadImage, PhaseStarted, PredictionBatch, Progress
from flowerstudio.core.foundation.fsnames import display_path
from flowerstudio.core.photos.imageio import PHOTO_EXTENSIONS, reasons_by_count
from flowerstudio.gui import engine, settings
from flowerstudio.gui.jobs import Job, Outcome, run_job
from flowerstudio.gui.pages.predict_detail import PredictDetail
from flowerstudio.gui.pages.predict_filters import ONLY_WRONG_NONE, FilterBar
from flowerstudio.gui.pages.predict_model import ModelBar
from flowerstudio.gui.pages.predict_output import PredictOutput
from flowerstudio.gui.pages.predict_review import ReviewBar
from flowerstudio.gui.state import AppState
from flowerstudio.gui.style import warning_html
from flowerstudio.gui.widgets.gallery_model import GalleryFilter, GalleryItem, GalleryModel, ItemRole
from flowerstudio.gui.widgets.gallery_view import GalleryView
from flowerstudio.gui.widgets.thumbnails import ThumbnailCache

# The photos labelling takes, from the one list of formats (those it cannot read are reported, with why).
IMAGE_FILTER = f"Photos ({' '.join(sorted('*' + ext for ext in PHOTO_EXTENSIONS))});;All files (*)"
HINT = ("Add photos or a folder (or drop them on the window). Photos inside a folder named after a class "
        "are checked against it.")


class PredictPage(QWidget):
    """Runs a core Predictor over the photos the user adds; shows a filterable gallery."""

    def __init__(self, state: AppState, thumbs: ThumbnailCache, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.state = state
        self.predictor = None
        self.pending: list[str] = []  # photos added but not yet predicted
        self.unreadable: list[tuple[str, str]] = []
        self.task: Optional[Job] = None
        self._announcing: Optional[str] = None
        self._classes_seen: list[str] = []

        self.model_bar = ModelBar(state)
        self.model_bar.loaded.connect(self._on_loaded)

        self.add_files_btn = QPushButton("Add photos…")
        self.add_files_btn.clicked.connect(self.choose_files)
        self.add_folder_btn = QPushButton("Add folder…", toolTip="Every photo in a folder, sub-folders included")
        self.add_folder_btn.clicked.connect(self.choose_folder)
        self.clear_btn = QPushButton("Clear", toolTip="Take the photos off the page (nothing is deleted)")
        self.clear_btn.clicked.connect(self.clear)
        self.stop_btn = QPushButton("Stop", toolTip="Stop labelling; the photos not done yet wait for the next run")
        self.stop_btn.setEnabled(False)
        self.stop_btn.clicked.connect(self.stop)
        self.progress = QProgressBar()
        self.progress.setFormat("%v / %m photos")
        self.progress.setVisible(False)
        adds = QHBoxLayout()
        for w in (self.add_files_btn, self.add_folder_btn, self.clear_btn, self.stop_btn):
            adds.addWidget(w)
        adds.addWidget(self.progress, 1)
        self.hint = QLabel(HINT)
        self.hint.setStyleSheet("color: #555;")
        self.hint.setWordWrap(True)
        adds.addWidget(self.hint, 1)

        self.counts = QLabel(wordWrap=True)  # a reason why nothing shows can be long
        self.gallery_model = GalleryModel(thumbs, self)
        self.proxy = GalleryFilter(self)
        self.proxy.setSourceModel(self.gallery_model)
        self.gallery = GalleryView(thumb=thumbs.size, lines=2)
        self.gallery.setModel(self.proxy)
        self.gallery.selectionModel().currentChanged.connect(self._on_current)
        self.filters = FilterBar(self.proxy)
        self.filters.changed.connect(self._on_filtered)
        # The filter controls, by the names the rest of the page and its tests use.
        self.class_filter, self.min_conf = self.filters.class_filter, self.filters.min_conf
        self.sort, self.only_wrong = self.filters.sort, self.filters.only_wrong
        self.detail = PredictDetail()
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(self.gallery)
        split.addWidget(self.detail)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        split.setSizes([760, 420])

        self.output = PredictOutput(self.predictions, self.reviewed_names)
        self.output.sorted.connect(self._on_sorted)
        self.review = ReviewBar(state, self.gallery, self.proxy, self.gallery_model, self.classes,
                                lambda: self.model_bar.model_path)
        self.review.retrained.connect(state.set_model)  # the page reloads it and predicts the rest again

        lay = QVBoxLayout(self)
        lay.addWidget(self.model_bar)
        lay.addLayout(adds)
        lay.addWidget(self.filters)
        lay.addWidget(self.counts)
        lay.addWidget(self.review)
        lay.addWidget(split, 1)
        lay.addWidget(self.output)

        state.model_changed.connect(self._on_new_model)
        self._update()

    # -- the window's page interface -------------------------------------------------------------
    def on_shown(self) -> None:
        if self.model_bar.model_path is None and not self.is_busy():
            self.model_bar.load_default()

    def save_settings(self) -> None:
        settings.put("predict/threshold", self.output.threshold.value())

    @property
    def model_path(self) -> Optional[str]:
        return self.model_bar.model_path

    def load_model(self, path: str) -> None:
        if self.is_busy():
            self.stop()
        self.model_bar.load_model(path)

    def choose_model(self) -> None:
        self.model_bar.choose_model()

    # -- model ----------------------------------------------------------------------------
    def _on_new_model(self, path: str) -> None:
        """A model from elsewhere (a finished training run): use it, unless this page just announced it."""
        if path != self._announcing and not self.is_busy():
            self.load_model(path)

    def _on_loaded(self, path: str, predictor) -> None:
        self.predictor = predictor
        info = predictor.info
        self.output.names = list(info.display_names)
        self.detail.set_model_path(path)
        self.filters.set_classes(info.display_names)
        # A new model makes old predictions stale: predict again every photo not reviewed yet (the
        # reviewed ones keep their label, when the new model has the same classes).
        same = self._classes_seen == list(info.classes)
        self._classes_seen = list(info.classes)
        keep = [it for it in self.gallery_model.items() if it.reviewed and same]
        self.pending = [it.path for it in self.gallery_model.items() if it not in keep] + self.pending
        self.gallery_model.set_items(keep)
        self.detail.clear()
        self._run()
        self._announcing = path
        self.state.set_model(path)
        self._announcing = None

    # -- photos -------------------------------------------------------------------------------
    def choose_files(self) -> None:
        start = settings.get("predict/last_dir", os.path.expanduser("~"), str)
        paths, _ = QFileDialog.getOpenFileNames(self, "Add photos", start, IMAGE_FILTER)
        if paths:
            settings.put("predict/last_dir", os.path.dirname(paths[0]))
            self.add_paths(paths)

    def choose_folder(self) -> None:
        start = settings.get("predict/last_dir", os.path.expanduser("~"), str)
        path = QFileDialog.getExistingDirectory(self, "Add a folder", start)
        if path:
            settings.put("predict/last_dir", path)
            self.add_paths([path])

    def add_paths(self, paths: list[str]) -> None:
        """Files or folders (searched recursively); listing runs in the background."""
        run_job(engine.list_images, list(paths), title="Adding photos", owner=self, on_result=self._on_listed)

    def _on_listed(self, found: list[str]) -> None:
        known = {it.path for it in self.gallery_model.items()} | set(self.pending)
        self.pending.extend(p for p in found if p not in known)
        if not found:
            self.hint.setText("No photos found there.")
        self._run()

    def clear(self) -> None:
        self.stop()
        self.pending.clear()
        self.unreadable.clear()
        self.hint.setText(HINT)  # not why photos that are gone could not be read
        self.gallery_model.clear()
        self.detail.clear()
        self._update()

    # -- prediction -------------------------------------------------------------------------------
    def is_busy(self) -> bool:
        return (self.task is not None and self.task.running) or self.model_bar.is_busy()

    def stop(self) -> None:
        if self.task is not None and self.task.running:
            self.task.cancel()

    def _run(self) -> None:
        self._update()
        if self.predictor is None or not self.pending or (self.task is not None and self.task.running):
            return
        batch, self.pending = self.pending, []
        self.progress.setRange(0, len(batch))
        self.progress.setValue(0)
        self.progress.setVisible(True)
        self.stop_btn.setEnabled(True)
        self.state.set_status(f"Predicting {len(batch)} photos…")
        self.task = run_job(engine.predict, self.predictor, batch, title="Prediction", owner=self, on_event=self._on_event,
                            on_cancelled=self._on_stopped, on_done=self._on_done)

    def _on_event(self, ev) -> None:
        if isinstance(ev, PredictionBatch):  # the only way predictions arrive: each exactly once
            items = [_item(p) for p in ev.predictions]
            for it in items:
                it.reviewed = self.review.reviewed_name(it.path)
            self.gallery_model.append_items(items)
            self._update()
        elif isinstance(ev, Progress) and ev.phase == "predict":
            self.progress.setValue(ev.done)
        elif isinstance(ev, PhaseStarted) and ev.phase == "predict":
            self.progress.setRange(0, ev.total)
        elif isinstance(ev, BadImage):
            self.unreadable.append((ev.path, ev.reason))

    def _on_stopped(self, partial) -> None:
        """Stopped: the photos not labelled yet wait for the next run."""
        if partial is not None:
            self.pending = list(partial.not_done) + self.pending

    def _on_done(self) -> None:
        self.progress.setVisible(False)
        self.stop_btn.setEnabled(False)
        self.state.set_status("")
        self.filters.apply()
        if self.task is not None and self.task.outcome is Outcome.FINISHED and not self.task.token.cancelled:
            self._run()  # photos added while this run was busy

    # -- review ---------------------------------------------------------------------------------------
    def _on_filtered(self) -> None:
        current = self.gallery.currentIndex()
        if not current.isValid():
            self.detail.clear()  # the photo shown was filtered out
        self._update()

    def _update(self) -> None:
        items = self.gallery_model.items()
        labelled = [it for it in items if it.correct is not None]
        text = f"Showing {self.proxy.rowCount()} of {len(items)} photos"
        if labelled:
            right = sum(1 for it in labelled if it.correct)
            text += (f" · accuracy <b>{100 * right / len(labelled):.1f}%</b> "
                     f"({right}/{len(labelled)} from labelled folders)")
        elif items and self.only_wrong.isChecked():
            text += " · " + warning_html(ONLY_WRONG_NONE)
        if self.pending:
            text += f" · {len(self.pending)} waiting" + ("" if self.predictor else " for a model")
        if self.unreadable:
            text += f" · {len(self.unreadable)} unreadable"
            # Say why, not only how many: a folder of iPhone photos is all "HEIC photo, ...".
            why, n = reasons_by_count(self.unreadable)[0]
            self.hint.setText(f"{n} photo{'s' if n > 1 else ''} could not be read: {why}")
        self.counts.setText(text)
        self.output.set_enabled(bool(items), not self.is_busy())
        self.review.update_counts()

    def classes(self) -> tuple[list, list]:
        """The model's (class folder names, display names); empty before a model is loaded."""
        info = self.model_bar.info
        return (list(info.classes), list(info.display_names)) if info is not None else ([], [])

    def reviewed_names(self) -> dict[str, str]:
        """photo -> the display name of the class the user gave it, for the photos on the page."""
        shown = {it.path for it in self.gallery_model.items()}
        labels = self.review.store.display_labels(*self.classes())
        return {p: name for p, name in labels.items() if p in shown}

    def predictions(self) -> list:
        """The predictions currently shown (after filters), in view order."""
        return [self.proxy.index(r, 0).data(ItemRole).payload for r in range(self.proxy.rowCount())]

    def _on_current(self, current, _previous) -> None:
        if not current.isValid():
            self.detail.clear()
            return
        item: GalleryItem = self.gallery_model.item(self.proxy.mapToSource(current).row())
        p, info = item.payload, self.model_bar.info
        truth = info.display_names[p.true_label] if p.true_label is not None and info is not None else None
        self.detail.show_item(item, truth)

    def _on_sorted(self, summary) -> None:
        if summary.moved:  # the photos are no longer where the gallery says
            self.gallery_model.clear()
            self.detail.clear()
            self._update()


def _item(p) -> GalleryItem:
    """A core Prediction as a gallery row; ``correct`` comes from the core (the photo's class folder)."""
    return GalleryItem(p.path, p.name, f"{100 * p.confidence:.0f}% · {display_path(os.path.basename(p.path))}",
                       label=p.label, confidence=p.confidence, correct=p.correct, payload=p)
