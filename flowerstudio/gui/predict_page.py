"""Predict page: load a model, add photos, review predictions, export or sort them."""
from __future__ import annotations

import os
from typing import Optional

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QCheckBox, QComboBox, QDoubleSpinBox, QFileDialog, QHBoxLayout,
                               QLabel, QProgressBar, QPushButton, QSplitter, QVBoxLayout, QWidget)

from flowerstudio.core.events import BadImage, PhaseStarted, PredictionBatch, Progress
from flowerstudio.gui import dialogs, predict_jobs, settings
from flowerstudio.gui.export_dialog import ExportDialog
from flowerstudio.gui.gallery_model import GalleryFilter, GalleryItem, GalleryModel, ItemRole
from flowerstudio.gui.gallery_view import GalleryView
from flowerstudio.gui.predict_detail import PredictDetail
from flowerstudio.gui.predict_output import PredictOutput
from flowerstudio.gui.state import AppState
from flowerstudio.gui.thumbnails import ThumbnailCache
from flowerstudio.gui.worker import Task

IMAGE_FILTER = "Images (*.jpg *.jpeg *.png *.bmp *.gif *.webp *.tif *.tiff);;All files (*)"
SORTS = [("confidence_asc", "Least confident first"), ("confidence_desc", "Most confident first"),
         ("wrong_first", "Wrong first"), ("name", "File name")]


class PredictPage(QWidget):
    """Runs a core Predictor over the photos the user adds; shows a filterable gallery."""

    model_loaded = Signal(str)  # path of the model now in use

    def __init__(self, state: AppState, thumbs: ThumbnailCache, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.state = state
        self.model_path: Optional[str] = None
        self.info = None
        self.predictor = None
        self.pending: list[str] = []  # photos added but not yet predicted
        self.unreadable: list[tuple[str, str]] = []
        self.task: Optional[Task] = None
        self._loading: Optional[Task] = None

        self.model_label = QLabel("No model loaded. Train one, or open a .safetensors model file.")
        self.model_label.setWordWrap(True)
        self.model_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        open_btn = QPushButton("Open model…")
        open_btn.clicked.connect(self.choose_model)
        latest_btn = QPushButton("Use latest run")
        latest_btn.setToolTip("The best model of the most recent training run")
        latest_btn.clicked.connect(self.use_latest)
        self.export_btn = QPushButton("Export model…")
        self.export_btn.setToolTip("Save the model as ONNX or TorchScript, for use outside Flower Studio")
        self.export_btn.setEnabled(False)
        self.export_btn.clicked.connect(self.export_model)
        self.export_dialog: Optional[ExportDialog] = None
        top = QHBoxLayout()
        top.addWidget(self.model_label, 1)
        top.addWidget(open_btn)
        top.addWidget(latest_btn)
        top.addWidget(self.export_btn)

        self.add_files_btn = QPushButton("Add photos…")
        self.add_files_btn.clicked.connect(self.choose_files)
        self.add_folder_btn = QPushButton("Add folder…")
        self.add_folder_btn.clicked.connect(self.choose_folder)
        self.clear_btn = QPushButton("Clear")
        self.clear_btn.clicked.connect(self.clear)
        self.stop_btn = QPushButton("Stop")
        self.stop_btn.setEnabled(False)
        self.stop_btn.clicked.connect(self.stop)
        self.progress = QProgressBar()
        self.progress.setFormat("%v / %m photos")
        self.progress.setVisible(False)
        adds = QHBoxLayout()
        for w in (self.add_files_btn, self.add_folder_btn, self.clear_btn, self.stop_btn):
            adds.addWidget(w)
        adds.addWidget(self.progress, 1)
        self.hint = QLabel("Add photos or a folder (or drop them on the window). Photos inside a folder named "
                           "after a class are checked against it.")
        self.hint.setStyleSheet("color: #555;")
        self.hint.setWordWrap(True)
        adds.addWidget(self.hint, 1)

        self.class_filter = QComboBox()
        self.class_filter.addItem("All classes", -1)
        self.class_filter.setMinimumContentsLength(14)
        self.min_conf = QDoubleSpinBox()
        self.min_conf.setRange(0, 100)
        self.min_conf.setSuffix(" %")
        self.min_conf.setDecimals(0)
        self.sort = QComboBox()
        for key, title in SORTS:
            self.sort.addItem(title, key)
        self.only_wrong = QCheckBox("Only wrong")
        self.counts = QLabel()
        filters = QHBoxLayout()
        filters.addWidget(QLabel("Predicted class:"))
        filters.addWidget(self.class_filter)
        filters.addWidget(QLabel("Min. confidence:"))
        filters.addWidget(self.min_conf)
        filters.addWidget(QLabel("Sort:"))
        filters.addWidget(self.sort)
        filters.addWidget(self.only_wrong)
        filters.addStretch(1)

        self.model = GalleryModel(thumbs, self)
        self.proxy = GalleryFilter(self)
        self.proxy.setSourceModel(self.model)
        self.gallery = GalleryView(thumb=thumbs.size, lines=2)
        self.gallery.setModel(self.proxy)
        self.gallery.selectionModel().currentChanged.connect(self._on_current)
        self.detail = PredictDetail()
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(self.gallery)
        split.addWidget(self.detail)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        split.setSizes([760, 420])

        self.output = PredictOutput(lambda: [it.payload for it in self.model.items()])
        self.output.sorted.connect(self._on_sorted)

        lay = QVBoxLayout(self)
        lay.addLayout(top)
        lay.addLayout(adds)
        lay.addLayout(filters)
        lay.addWidget(self.counts)
        lay.addWidget(split, 1)
        lay.addWidget(self.output)

        self.class_filter.currentIndexChanged.connect(lambda: self._filter())
        self.min_conf.valueChanged.connect(lambda: self._filter())
        self.only_wrong.toggled.connect(lambda: self._filter())
        self.sort.currentIndexChanged.connect(lambda: self._filter())
        state.model_ready.connect(self._on_new_model)
        self._update()

    # -- model ----------------------------------------------------------------------------
    def choose_model(self) -> None:
        start = os.path.dirname(self.model_path or settings.get("predict/last_model", "", str))
        path, _ = QFileDialog.getOpenFileName(self, "Open a model", start, "Flower Studio models (*.safetensors)")
        if path:
            self.load_model(path)

    def use_latest(self) -> None:
        path = self.state.last_model or predict_jobs.default_model(self.state.output_dir)
        if path:
            self.load_model(path)
        else:
            self.model_label.setText("No finished training run yet — train a model on the Train page first.")

    def load_default_model(self) -> None:
        """At start-up: the last model used, else the latest run's best."""
        path = settings.get("predict/last_model", "", str)
        if not (path and os.path.isfile(path)):
            path = predict_jobs.default_model(self.state.output_dir)
        if path:
            self.load_model(path)

    def _on_new_model(self, path: str) -> None:
        if not self.is_busy():
            self.load_model(path)

    def load_model(self, path: str) -> None:
        from flowerstudio.core.checkpoints import CheckpointError, read_model_info  # no torch: reads the header

        if self.is_busy():
            self.stop()
        try:
            info = read_model_info(path)
        except CheckpointError as exc:
            self._on_load_failed(str(exc), "")
            return
        self._show_info(path, info, loading=True)
        self._loading = Task(predict_jobs.load_predictor, path, name="load-model", pass_callback=False,
                             pass_cancel=False, parent=self)
        self._loading.finished.connect(lambda pred, p=path: self._on_loaded(p, pred))
        self._loading.failed.connect(self._on_load_failed)
        self._loading.start()

    def _on_load_failed(self, message: str, details: str) -> None:
        self.model_label.setText(f"<span style='color:#b00020'>Cannot use this model: {message}</span>")
        dialogs.show_error(self, "Cannot open model", message, details)

    def _show_info(self, path: str, info, loading: bool = False) -> None:
        names = ", ".join(info.display_names[:6]) + (" …" if len(info.display_names) > 6 else "")
        self.model_label.setText(
            f"<b>Model:</b> {path}<br>{info.backbone} · {len(info.classes)} classes ({names}) · "
            f"validation accuracy <b>{100 * info.best_val_acc:.1f}%</b> · epoch {info.epoch} · "
            f"{info.input_size}px" + (" · <i>loading…</i>" if loading else ""))

    def _on_loaded(self, path: str, predictor) -> None:
        self.model_path, self.predictor, self.info = path, predictor, predictor.info
        settings.put("predict/last_model", path)
        settings.add_recent("models", path)
        info = self.info
        self._show_info(path, info)
        self.export_btn.setEnabled(True)
        self.detail.set_model_path(path)
        self.class_filter.blockSignals(True)
        self.class_filter.clear()
        self.class_filter.addItem("All classes", -1)
        for i, name in enumerate(info.display_names):
            self.class_filter.addItem(name, i)
        self.class_filter.blockSignals(False)
        # A new model makes old predictions stale: predict everything again.
        self.pending = [it.path for it in self.model.items()] + self.pending
        self.model.clear()
        self.detail.clear()
        self._run()
        self.model_loaded.emit(path)

    def export_model(self) -> Optional[ExportDialog]:
        """ONNX or TorchScript export of the model in use."""
        if not self.model_path:
            return None
        dlg = ExportDialog(self.model_path, self)
        dlg.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dlg.destroyed.connect(lambda _=None: setattr(self, "export_dialog", None))
        self.export_dialog = dlg
        dlg.open()
        return dlg

    def shutdown(self) -> None:
        """Wait for the photo and heat-map jobs (the window is closing)."""
        self.stop()
        self.detail.shutdown()

    # -- photos -------------------------------------------------------------------------------
    def choose_files(self) -> None:
        start = settings.get("predict/last_dir", os.path.expanduser("~"), str)
        paths, _ = QFileDialog.getOpenFileNames(self, "Add photos", start, IMAGE_FILTER)
        if paths:
            settings.put("predict/last_dir", os.path.dirname(paths[0]))
            self.add_paths(paths)

    def choose_folder(self) -> None:
        start = settings.get("predict/last_dir", os.path.expanduser("~"), str)
        path = QFileDialog.getExistingDirectory(self, "Add a folder of photos (sub-folders included)", start)
        if path:
            settings.put("predict/last_dir", path)
            self.add_paths([path])

    def add_paths(self, paths: list[str]) -> None:
        """Files or folders (searched recursively); listing runs in the background."""
        task = Task(predict_jobs.list_images, list(paths), name="list-images", pass_callback=False,
                    pass_cancel=False, parent=self)
        task.finished.connect(self._on_listed)
        task.failed.connect(lambda m, d: dialogs.show_error(self, "Cannot add photos", m, d))
        task.start()

    def _on_listed(self, found: list[str]) -> None:
        known = {it.path for it in self.model.items()} | set(self.pending)
        new = [p for p in found if p not in known]
        self.pending.extend(new)
        if not found:
            self.hint.setText("No photos found there.")
        self._run()

    def clear(self) -> None:
        self.stop()
        self.pending.clear()
        self.unreadable.clear()
        self.model.clear()
        self.detail.clear()
        self._update()

    # -- prediction -------------------------------------------------------------------------------
    def is_busy(self) -> bool:
        return (self.task is not None and self.task.running) or (self._loading is not None and self._loading.running)

    def stop(self) -> None:
        if self.task is not None and self.task.running:
            self.task.cancel()

    def _run(self) -> None:
        self._update()
        if self.predictor is None or not self.pending or (self.task is not None and self.task.running):
            return
        batch, self.pending = self.pending, []
        self._batch = batch
        self.progress.setRange(0, len(batch))
        self.progress.setValue(0)
        self.progress.setVisible(True)
        self.stop_btn.setEnabled(True)
        self.state.set_status(f"Predicting {len(batch)} photos…")
        self.task = Task(predict_jobs.predict, self.predictor, batch, name="predict", parent=self)
        self.task.event.connect(self._on_event)
        self.task.finished.connect(self._on_predicted)
        self.task.failed.connect(lambda m, d: dialogs.show_error(self, "Prediction failed", m, d))
        self.task.done.connect(self._on_done)
        self.task.start()

    def _on_event(self, ev) -> None:
        if isinstance(ev, PredictionBatch):
            self.model.append_items([self._item(p) for p in ev.predictions])
            self._update()
        elif isinstance(ev, Progress) and ev.phase == "predict":
            self.progress.setValue(ev.done)
        elif isinstance(ev, PhaseStarted) and ev.phase == "predict":
            self.progress.setRange(0, ev.total)
        elif isinstance(ev, BadImage):
            self.unreadable.append((ev.path, ev.reason))

    def _item(self, p) -> GalleryItem:
        from flowerstudio.core.predict import true_label  # already loaded with the predictor

        truth = true_label(p.path, self.info.classes)
        correct = None if truth is None else truth == p.label
        return GalleryItem(p.path, p.name, f"{100 * p.confidence:.0f}% · {os.path.basename(p.path)}",
                           label=p.label, confidence=p.confidence, correct=correct, payload=p)

    def _on_predicted(self, result) -> None:
        done = {it.path for it in self.model.items()}
        missing = [p for p in result.predictions if p.path not in done]
        if missing:  # e.g. the last batch arrived after a stop; the result is the truth
            self.model.append_items([self._item(p) for p in missing])
            done.update(p.path for p in missing)
        if result.cancelled:
            left = [p for p in self._batch if p not in done and p not in {u for u, _ in result.unreadable}]
            self.pending = left + self.pending

    def _on_done(self) -> None:
        self.progress.setVisible(False)
        self.stop_btn.setEnabled(False)
        self.state.set_status("")
        self._filter()
        if self.task is not None and self.task.outcome == "finished" and not self.task.token.cancelled:
            self._run()  # photos added while this run was busy
        self._update()

    # -- review ---------------------------------------------------------------------------------------
    def _filter(self) -> None:
        self.proxy.set_label(self.class_filter.currentData() if self.class_filter.currentData() is not None else -1)
        self.proxy.set_min_confidence(self.min_conf.value() / 100.0)
        self.proxy.set_only_wrong(self.only_wrong.isChecked())
        self.proxy.set_sort(self.sort.currentData())
        self._update()

    def _update(self) -> None:
        items = self.model.items()
        labelled = [it for it in items if it.correct is not None]
        text = f"Showing {self.proxy.rowCount()} of {len(items)} photos"
        if labelled:
            right = sum(1 for it in labelled if it.correct)
            text += (f" · accuracy <b>{100 * right / len(labelled):.1f}%</b> "
                     f"({right}/{len(labelled)} from labelled folders)")
        if self.pending:
            text += f" · {len(self.pending)} waiting" + ("" if self.predictor else " for a model")
        if self.unreadable:
            text += f" · {len(self.unreadable)} unreadable"
        self.counts.setText(text)
        self.output.set_enabled(bool(items), not self.is_busy())

    def predictions(self) -> list:
        """The predictions currently shown (after filters), in view order."""
        return [self.proxy.index(r, 0).data(ItemRole).payload
                for r in range(self.proxy.rowCount())]

    def _on_current(self, current, _previous) -> None:
        if not current.isValid():
            self.detail.clear()
            return
        item: GalleryItem = self.model.item(self.proxy.mapToSource(current).row())
        truth = None
        if item.correct is False and self.info is not None:
            from flowerstudio.core.predict import true_label

            idx = true_label(item.path, self.info.classes)
            truth = self.info.display_names[idx] if idx is not None else None
        elif item.correct:
            truth = item.title
        self.detail.show_item(item, truth)

    def _on_sorted(self, summary) -> None:
        if summary.moved:  # the photos are no longer where the gallery says
            self.model.clear()
            self.detail.clear()
            self._update()
