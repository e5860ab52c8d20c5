"""Dataset page: choose a folder, scan it in the background, show what was found."""
from __future__ import annotations

import os
from typing import Optional

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QAbstractItemView, QFileDialog, QHBoxLayout, QHeaderView, QLabel, QLineEdit,
                               QProgressBar, QPushButton, QSplitter, QTableWidget, QTableWidgetItem, QTabWidget,
                               QVBoxLayout, QWidget)

from flowerstudio.core.foundation.fsnames import display_path
from flowerstudio.core.foundation.vocab import Layout, Part
from flowerstudio.core.photos.imageio import reasons_by_count
from flowerstudio.core.photos.scan import UnlabelledFolderError, WrappedDatasetError
from flowerstudio.gui import engine, settings
from flowerstudio.gui.jobs import Job, run_job
from flowerstudio.gui.state import AppState
from flowerstudio.gui.style import error_html, esc, warning_html
from flowerstudio.gui.widgets.augment_preview import AugmentPreview
from flowerstudio.gui.widgets.class_chart import ClassChart
from flowerstudio.gui.widgets.gallery_model import GalleryItem, GalleryModel
from flowerstudio.gui.widgets.gallery_view import GalleryView
from flowerstudio.gui.widgets.number_item import NumberItem
from flowerstudio.gui.widgets.problems_tree import ProblemsTree
from flowerstudio.gui.widgets.thumbnails import ThumbnailCache

PART_TITLES = {Part.TRAIN: "training", Part.VAL: "validation", Part.TEST: "test"}
COLUMNS = (("Class", "The class: its folder's name, or the name given to it"), ("Folder", "The class's folder"),
           ("Training", "Photos the model learns from"), ("Validation", "Photos set aside to check the model: it "
           "never trains on them"), ("Test", "Photos in the test/ sub-folder, to check a finished model (Check page)"))


class DatasetPage(QWidget):
    """Folder picker, scan report, class table and chart, photo grid, problems, augmentation preview."""

    label_folder_requested = Signal(str)  # a folder of unlabelled photos, for the Predict page

    def __init__(self, state: AppState, thumbs: ThumbnailCache, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.state = state
        self.task: Optional[Job] = None
        self.scan, self._refused = None, ""  # _refused: the last folder that could not be used (the good one stays)

        self.path_edit = QLineEdit()
        self.path_edit.setReadOnly(True)
        self.path_edit.setPlaceholderText("Choose a folder of photos — one sub-folder per class (or drop it here)")
        self.choose_btn = QPushButton("Choose folder…")
        self.choose_btn.clicked.connect(self.choose_folder)
        self.rescan_btn = QPushButton("Rescan")
        self.rescan_btn.setEnabled(False)
        self.rescan_btn.clicked.connect(lambda: self.open_folder(self.path_edit.text()))
        self.stop_btn = QPushButton("Stop")
        self.stop_btn.setVisible(False)
        self.stop_btn.clicked.connect(self.stop)
        top = QHBoxLayout()
        top.addWidget(QLabel("Dataset folder:"))
        top.addWidget(self.path_edit, 1)
        for button in (self.choose_btn, self.rescan_btn, self.stop_btn):
            top.addWidget(button)

        self.progress = QProgressBar()
        self.progress.setVisible(False)
        self.summary = QLabel("No dataset yet. Choose a folder with one sub-folder of photos per class, "
                              "or a folder with train/ and valid/ sub-folders.")
        self.summary.setWordWrap(True)
        self.summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextBrowserInteraction)
        self.summary.linkActivated.connect(self._on_link)

        self.table = QTableWidget(0, 5)
        self.table.setHorizontalHeaderLabels([title for title, _ in COLUMNS])
        for col, (_, tip) in enumerate(COLUMNS):
            self.table.horizontalHeaderItem(col).setToolTip(tip)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        self.table.verticalHeader().setDefaultSectionSize(22)
        hdr = self.table.horizontalHeader()
        hdr.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        hdr.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.table.itemSelectionChanged.connect(self._show_selected_class)

        self.gallery_model = GalleryModel(thumbs, self)
        self.gallery = GalleryView(thumb=thumbs.size, lines=1)
        self.gallery.setModel(self.gallery_model)
        self.gallery.doubleClicked.connect(self._preview_clicked)
        self.gallery_label = QLabel("Select a class to see its photos.")
        photos = QWidget()
        pl = QVBoxLayout(photos)
        pl.setContentsMargins(0, 4, 0, 0)
        pl.addWidget(self.gallery_label)
        pl.addWidget(self.gallery, 1)

        self.chart = ClassChart()
        self.chart.class_clicked.connect(self.select_class)
        self.problems = ProblemsTree()
        self.preview = AugmentPreview(state)

        self.tabs = QTabWidget()
        self.tabs.addTab(photos, "Photos")
        self.tabs.addTab(self.chart, "Photos per class")
        self.tabs.addTab(self.preview, "Training variations")
        self.tabs.setTabToolTip(2, "The random changes training makes to each photo (data augmentation)")
        self.tabs.addTab(self.problems, "Problems")

        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(self.table)
        split.addWidget(self.tabs)
        split.setStretchFactor(0, 2)
        split.setStretchFactor(1, 3)
        split.setSizes([420, 700])

        lay = QVBoxLayout(self)
        lay.addLayout(top)
        lay.addWidget(self.progress)
        lay.addWidget(self.summary)
        lay.addWidget(split, 1)
        state.model_changed.connect(lambda _path: self._rescan_if_split_changed())
        state.dataset_changed.connect(self._rescan_if_split_changed)

    # -- scanning ------------------------------------------------------------------
    def choose_folder(self) -> None:
        start = self.path_edit.text() or settings.get("dataset/last_dir", os.path.expanduser("~"), str)
        path = QFileDialog.getExistingDirectory(self, "Choose a folder of photos", start)
        if path:
            self.open_folder(path)

    def open_folder(self, path: str) -> None:
        if not path:
            return
        self.stop()
        path = os.path.abspath(path)
        self.path_edit.setText(path)
        self.rescan_btn.setEnabled(True)
        self.summary.setText(f"Scanning {path} …")
        self.progress.setRange(0, 0)
        self.progress.setVisible(True)
        self.stop_btn.setVisible(True)
        self.state.set_status("Scanning dataset…")
        self.task = run_job(engine.scan, path, self.state.split_run(path), title="Scanning the dataset", owner=self,
                            on_event=self._on_event, on_result=self._on_scanned, on_error=self._on_failed,
                            on_cancelled=lambda _partial: self._end("Scan stopped."))

    def _rescan_if_split_changed(self, force: bool = False) -> None:
        """The model in use changed (its run's split is the truth for this folder), or the folder did."""
        if self.scan is None or self.is_busy():
            return
        want = self.state.split_run(self.scan.root)
        have = os.path.dirname(self.scan.split_file) if self.scan.split_file else None
        if force or want != have:
            self.open_folder(self.scan.root)

    def stop(self) -> None:
        if self.task is not None and self.task.running:
            self.task.cancel()

    def is_busy(self) -> bool:
        return self.task is not None and self.task.running

    def _on_event(self, ev) -> None:
        total, done = getattr(ev, "total", 0), getattr(ev, "done", None)
        if done is not None and total:
            self.progress.setRange(0, total)
            self.progress.setValue(done)
            self.progress.setFormat(f"Checking photos: {done} / {total}")
        elif done is not None:
            self.progress.setRange(0, 0)
            self.progress.setFormat(f"Found {done} photos")

    def _end(self, text: str) -> None:
        self.progress.setVisible(False)
        self.stop_btn.setVisible(False)
        self.state.set_status("")
        if text:
            self.summary.setText(text)

    def _on_failed(self, message: str, details: str) -> None:
        """A folder that cannot be used never replaces the dataset that works: it stays open, and the
        message says which folder was refused and why."""
        self._end("")
        text = error_html(f"<b>{esc(display_path(self.path_edit.text()))} cannot be used:</b> {esc(message)}")
        if isinstance(self.task.exception, UnlabelledFolderError):
            text += ("<br>These look like unlabelled photos: <a href='predict'>label them on the Predict page</a> "
                     "with a model you trained.")
        elif isinstance(self.task.exception, WrappedDatasetError):
            text += f"<br><a href='inner'>Open {esc(display_path(self.task.exception.inner))}</a>"
        if self.scan is not None:
            text += f"<br>Still using <b>{esc(display_path(self.scan.root))}</b>."
            self._refused = self.path_edit.text()
            self.path_edit.setText(self.scan.root)
        self.summary.setText(text)

    def _on_link(self, link: str) -> None:
        if link == "inner":  # the folder a wrapped dataset really starts in
            self.open_folder(self.task.exception.inner)
        else:
            self.label_folder_requested.emit(self._refused or self.path_edit.text())

    def _on_scanned(self, scan) -> None:
        self._end("")
        self.scan = scan
        # Only a folder that scanned is reopened at the next start and listed as recent.
        settings.put("dataset/last_dir", scan.root)
        settings.add_recent("datasets", scan.root)
        self._fill(scan)
        self.state.set_scan(scan)

    # -- presenting -----------------------------------------------------------------
    def _fill(self, scan) -> None:
        counts = {s: scan.counts(s) for s in ("train", "val", "test")}
        if scan.split_file:  # the run of the model in use: its own validation photos, however the folder grew
            layout = "the split of the model in use: " + "; ".join(n[0].lower() + n[1:] for n in scan.split_notes[1:]) \
                if len(scan.split_notes) > 1 else "the split of the model in use (its validation photos)"
        elif scan.layout == Layout.SPLIT:
            layout = "train / validation sub-folders"
        else:
            layout = f"one folder per class ({round(scan.val_fraction * 100)}% of each class set aside to check the model)"
        parts = [f"<b>{len(scan.classes)} classes</b>", f"{sum(counts['train'])} training photos",
                 f"{sum(counts['val'])} validation photos"]
        if scan.test:
            parts.append(f"{sum(counts['test'])} test photos")
        problems = len(scan.skipped) + len(scan.unreadable)
        text = " · ".join(parts) + f"<br>Layout: {layout}"
        if problems:
            bits = [f"{n} {what}" for n, what in ((len(scan.unreadable), "unreadable photos"),
                                                  (len(scan.skipped), "files skipped")) if n]
            text += "<br>" + warning_html(f"{' and '.join(bits)} — see Problems.")
        if scan.unreadable:  # the reason many share, e.g. a folder of iPhone photos: say it here
            why, n = reasons_by_count(scan.unreadable)[0]
            if n > 1:
                text += "<br>" + warning_html(esc(f"{n} of the unreadable photos: {why}"))
        for w in scan.warnings[:3]:
            text += "<br>" + warning_html(f"⚠ {esc(w)}")
        self.summary.setText(text)

        self.table.setSortingEnabled(False)
        self.table.clearContents()
        self.table.setRowCount(len(scan.classes))
        for i, (folder, name) in enumerate(zip(scan.classes, scan.display_names)):
            item = QTableWidgetItem(name)
            item.setData(Qt.ItemDataRole.UserRole, i)
            self.table.setItem(i, 0, item)
            self.table.setItem(i, 1, QTableWidgetItem(folder))
            for col, split in enumerate(("train", "val", "test"), start=2):
                self.table.setItem(i, col, NumberItem(counts[split][i]))
        self.table.setColumnHidden(4, not scan.test)
        self.table.setColumnHidden(1, list(scan.classes) == list(scan.display_names))
        # Class order first; clicking a header sorts by that column.
        self.table.horizontalHeader().setSortIndicator(-1, Qt.SortOrder.AscendingOrder)
        self.table.setSortingEnabled(True)
        self.chart.set_counts(scan.display_names, counts)
        self._show_problems(scan)
        if scan.classes:
            self.select_class(0)

    def _show_problems(self, scan) -> None:
        """The Problems tab and its count for ``scan``; None (a failed scan) empties both."""
        n = self.problems.fill(scan)
        self.tabs.setTabText(self.tabs.indexOf(self.problems), f"Problems ({n})" if n else "Problems")

    def select_class(self, label: int) -> None:
        for row in range(self.table.rowCount()):
            if self.table.item(row, 0).data(Qt.ItemDataRole.UserRole) == label:
                self.table.selectRow(row)
                self.table.scrollToItem(self.table.item(row, 0))
                return

    def selected_class(self) -> int:
        rows = self.table.selectionModel().selectedRows()
        if not rows:
            return -1
        return self.table.item(rows[0].row(), 0).data(Qt.ItemDataRole.UserRole)

    def _show_selected_class(self) -> None:
        label = self.selected_class()
        if self.scan is None or label < 0:
            return
        items = [GalleryItem(s.path, display_path(os.path.basename(s.path)), title, label=label)
                 for part, title in PART_TITLES.items() for s in self.scan.samples(part) if s.label == label]
        self.gallery_model.set_items(items)
        name = self.scan.display_names[label]
        self.gallery_label.setText(f"<b>{esc(name)}</b> — {len(items)} photos (double-click one to see its training variations)")
        if items:
            self.preview.set_sample(items[0].path)

    def _preview_clicked(self, index) -> None:
        item = self.gallery_model.item(index.row())
        self.preview.set_sample(item.path)
        self.tabs.setCurrentWidget(self.preview)

    # -- the window's page interface -------------------------------------------------------------
    def on_shown(self) -> None:
        """Nothing to load: the dataset opens when chosen (or at start, the last one)."""

    def save_settings(self) -> None:
        """Folders are remembered as they are opened."""

    def show_preview(self) -> None:
        self.tabs.setCurrentWidget(self.preview)
