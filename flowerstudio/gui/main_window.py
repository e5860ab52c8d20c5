"""The main window: the four pages in a sidebar, the menu and the status bar; quitting stops all jobs."""
from __future__ import annotations

import os
import time
import weakref
from typing import Optional

from PySide6.QtCore import QSize, Qt, QTimer
from PySide6.QtGui import QCloseEvent, QKeySequence
from PySide6.QtWidgets import (QHBoxLayout, QLabel, QListWidget, QListWidgetItem, QMainWindow, QMenu,
                               QMessageBox, QStackedWidget, QWidget)

from flowerstudio.core.foundation import notify
from flowerstudio.gui import jobs, messages, settings
from flowerstudio.gui.dialogs.shortcuts import ShortcutsDialog
from flowerstudio.gui.drops import local_paths, route_drop
from flowerstudio.gui.pages.check import CheckPage
from flowerstudio.gui.pages.dataset import DatasetPage
from flowerstudio.gui.pages.predict import PredictPage
from flowerstudio.gui.pages.review import ReviewPage
from flowerstudio.gui.pages.train import TrainPage
from flowerstudio.gui.state import AppState, Page
from flowerstudio.gui.widgets.thumbnails import ThumbnailCache

# Quitting waits this long for running jobs to stop (each checks its cancel token every batch).
QUIT_WAIT_S = 15.0
SIDEBAR_STYLE = ("QListWidget { font-size: 15px; border: none; background: palette(window); }"
                 "QListWidget::item { padding: 12px 10px; }"
                 "QListWidget::item:selected { background: palette(highlight);"
                 " color: palette(highlighted-text); border-radius: 4px; }")


class MainWindow(QMainWindow):
    """Dataset → Review → Train → Predict → Check, in work order, in a sidebar."""

    def __init__(self, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Flower Studio")
        self.state = AppState(self)
        self.thumbs = ThumbnailCache(size=120, parent=self)
        self.pages = {Page.DATASET: DatasetPage(self.state, self.thumbs),
                      Page.REVIEW: ReviewPage(self.state, self.thumbs),
                      Page.TRAIN: TrainPage(self.state, self.thumbs),
                      Page.PREDICT: PredictPage(self.state, self.thumbs),
                      Page.CHECK: CheckPage(self.state, self.thumbs)}
        self.sidebar = QListWidget()
        self.sidebar.setFixedWidth(130)
        self.sidebar.setIconSize(QSize(24, 24))
        self.sidebar.setStyleSheet(SIDEBAR_STYLE)
        self.stack = QStackedWidget()
        for i, (page, widget) in enumerate(self.pages.items()):
            QListWidgetItem(f"{i + 1}  {page.value}", self.sidebar)
            self.stack.addWidget(widget)
        self.sidebar.currentRowChanged.connect(self._show_page)
        central = QWidget()
        lay = QHBoxLayout(central)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addWidget(self.sidebar)
        lay.addWidget(self.stack, 1)
        self.setCentralWidget(central)

        self.device_label = QLabel("Device: …")
        self.run_label = QLabel("")
        self.statusBar().addWidget(self.run_label, 1)
        self.statusBar().addPermanentWidget(self.device_label)
        self.state.status_changed.connect(self.run_label.setText)
        self.state.model_changed.connect(lambda p: self.run_label.setText(f"Model: {p}"))
        self.state.devices_changed.connect(self._on_devices)
        self.train_page.preview_requested.connect(self.show_augment_preview)
        self.dataset_page.label_folder_requested.connect(lambda folder: self.route_to_predict([folder]))
        jobs.set_error_handler(lambda title, message, details: messages.show_error(
            self, f"{title} failed", message, details))
        # Warnings the core logs outside any job (an engine falling back, say) reach the status bar.
        me = weakref.ref(self)
        self._unsubscribe = notify.subscribe(lambda ev: jobs.call_on_gui_thread(
            lambda: me() is not None and me().statusBar().showMessage(f"Note: {ev.text}", 20000)))

        self._stopping_since: Optional[float] = None  # quitting: when the jobs were asked to stop
        self._build_menu()
        self.setAcceptDrops(True)
        self._restore()
        QTimer.singleShot(0, self._reopen_last_dataset)

    @property
    def dataset_page(self) -> DatasetPage:
        return self.pages[Page.DATASET]

    @property
    def train_page(self) -> TrainPage:
        return self.pages[Page.TRAIN]

    @property
    def predict_page(self) -> PredictPage:
        return self.pages[Page.PREDICT]

    # -- menu -----------------------------------------------------------------------------------
    def _build_menu(self) -> None:
        # (menu, text, slot, shortcut): every action declared once, in one table.
        file_menu = self.menuBar().addMenu("&File")
        help_menu = self.menuBar().addMenu("&Help")
        actions = [(file_menu, "Open &dataset…", self._open_dataset, QKeySequence.StandardKey.Open),
                   (file_menu, "Open &model…", self._open_model, "Ctrl+M"),
                   (file_menu, None, None, None),
                   (file_menu, "&Quit", self.close, QKeySequence.StandardKey.Quit),
                   (help_menu, "&Keyboard shortcuts", self.show_shortcuts, "F1"),
                   (help_menu, "&About Flower Studio", self._about, None)]
        self.recent_datasets = QMenu("Recent datasets", self)
        self.recent_models = QMenu("Recent models", self)
        for menu, text, slot, shortcut in actions:
            if text is None:
                menu.addMenu(self.recent_datasets)
                menu.addMenu(self.recent_models)
                menu.addSeparator()
                continue
            act = menu.addAction(text)
            act.triggered.connect(slot)
            if shortcut is not None:
                act.setShortcut(QKeySequence(shortcut))
        self.recent_datasets.aboutToShow.connect(lambda: self._fill_recent(self.recent_datasets, "datasets"))
        self.recent_models.aboutToShow.connect(lambda: self._fill_recent(self.recent_models, "models"))

    def _fill_recent(self, menu: QMenu, kind: str) -> None:
        menu.clear()
        paths = settings.recent(kind)
        for path in paths:
            act = menu.addAction(path)
            act.triggered.connect(lambda _=False, p=path, k=kind: self.open_path(p, k))
        if not paths:
            menu.addAction("(none yet)").setEnabled(False)
        else:
            menu.addSeparator()
            menu.addAction("Clear list").triggered.connect(lambda _=False, k=kind: settings.clear_recent(k))

    def open_path(self, path: str, kind: str) -> None:
        if kind == "datasets":
            self.go_to(Page.DATASET)
            self.dataset_page.open_folder(path)
        else:
            self.go_to(Page.PREDICT)
            self.predict_page.load_model(path)

    def _open_dataset(self) -> None:
        self.go_to(Page.DATASET)
        self.dataset_page.choose_folder()

    def _open_model(self) -> None:
        self.go_to(Page.PREDICT)
        self.predict_page.choose_model()

    def show_shortcuts(self) -> ShortcutsDialog:
        """Every key of the app: the menus' (read from the menus themselves), then each page's."""
        from flowerstudio.gui.pages import predict_review, review

        menu_keys = [(act.shortcut().toString(QKeySequence.SequenceFormat.NativeText), act.text().replace("&", ""))
                     for menu in self.menuBar().findChildren(QMenu) for act in menu.actions()
                     if not act.shortcut().isEmpty()]
        dlg = ShortcutsDialog([("Anywhere (the menus)", menu_keys),
                               ("Predict page, with a photo selected", predict_review.KEY_HELP),
                               ("Review page, with a finding selected", review.KEY_HELP)], self)
        dlg.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dlg.show()
        return dlg

    def _about(self) -> None:
        import flowerstudio

        QMessageBox.about(self, "About Flower Studio",
                          f"<b>Flower Studio {flowerstudio.__version__}</b><br>Train image classifiers from "
                          "folders of photos: choose a dataset, train, then predict.")

    def _reopen_last_dataset(self) -> None:
        last = settings.get("dataset/last_dir", "", str)
        if last and os.path.isdir(last) and self.state.scan is None and not self.dataset_page.is_busy():
            self.dataset_page.open_folder(last)

    # -- pages and status ------------------------------------------------------------------------------
    def go_to(self, page: Page) -> None:
        self.sidebar.setCurrentRow(list(self.pages).index(page))

    def show_augment_preview(self) -> None:
        self.go_to(Page.DATASET)
        self.dataset_page.show_preview()

    def route_to_predict(self, paths: list[str]) -> None:
        self.go_to(Page.PREDICT)
        self.predict_page.add_paths(paths)

    def current_page(self) -> Page:
        return list(self.pages)[self.stack.currentIndex()]

    def _show_page(self, index: int) -> None:
        self.stack.setCurrentIndex(index)
        page = list(self.pages)[index]
        settings.put("window/page", page.name)
        self.pages[page].on_shown()

    def _on_devices(self) -> None:
        gpu = self.state.gpu_name()
        self.device_label.setText(f"Device: CUDA — {gpu}" if gpu else "Device: CPU")

    # -- drag and drop ------------------------------------------------------------------------------
    def dragEnterEvent(self, event) -> None:
        if local_paths(event.mimeData()):
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:
        paths = local_paths(event.mimeData())
        if paths:
            event.acceptProposedAction()
            self.route(paths)

    def route(self, paths: list[str]) -> Page:
        """Opens dropped (or command-line) paths on the page they belong to; returns that page."""
        page = route_drop(paths, on_predict=self.current_page() is Page.PREDICT)
        self.go_to(page)
        if page is Page.DATASET:
            self.dataset_page.open_folder(paths[0])
        elif any(p.lower().endswith(".safetensors") for p in paths):
            self.predict_page.load_model(next(p for p in paths if p.lower().endswith(".safetensors")))
        else:
            self.predict_page.add_paths(paths)
        return page

    # -- geometry and closing ------------------------------------------------------------------------------
    def _restore(self) -> None:
        geometry = settings.settings().value("window/geometry")
        if geometry is not None:
            self.restoreGeometry(geometry)
        # Never larger than the screen (a 1366x768 laptop hides the status bar otherwise), title bar included.
        avail = self.screen().availableGeometry()
        width = min(self.width() if geometry is not None else 1280, avail.width() - 20)
        height = min(self.height() if geometry is not None else 820, avail.height() - 60)
        self.resize(width, height)
        if geometry is None and (width < 1280 or height < 820):
            # A first start on a laptop screen opens maximised: the pages were laid out for more room.
            self.setWindowState(Qt.WindowState.WindowMaximized)
        name = settings.get("window/page", Page.DATASET.name, str)
        self.go_to(Page[name] if name in Page.__members__ else Page.DATASET)

    def closeEvent(self, event: QCloseEvent) -> None:
        """Quitting stops every job first, and shows that it does: the window stays drawn and says
        "Stopping…" while the jobs end (each within a batch), then closes. A job that outlives
        QUIT_WAIT_S cannot hold up the exit (app.finish)."""
        if self._stopping_since is None:
            if self.train_page.is_busy() and not messages.ask(
                    self, "Training is running", "A training run is still going. Stop it and quit?\n\n"
                    "The best model saved so far is kept.", yes="Stop and quit", no="Keep training"):
                event.ignore()
                return
            if jobs.running():
                event.ignore()
                self._stop_then_close()
                return
        settings.put("window/geometry", self.saveGeometry())
        for page in self.pages.values():
            page.save_settings()
        settings.sync()
        jobs.stop_all(0.5)
        jobs.set_error_handler(None)
        self._unsubscribe()
        self.thumbs.shutdown()
        event.accept()

    def _stop_then_close(self) -> None:
        self._stopping_since = time.monotonic()
        jobs.cancel_all()
        self.centralWidget().setEnabled(False)
        self.run_label.setText("Stopping… (the best model so far is kept), then Flower Studio closes.")
        timer = QTimer(self, interval=100)

        def check() -> None:
            if not jobs.running() or time.monotonic() - self._stopping_since > QUIT_WAIT_S:
                timer.stop()
                self.close()
        timer.timeout.connect(check)
        timer.start()
