"""The main window: assembles the four pages, the menu and the status bar."""
from __future__ import annotations

import os
from typing import Optional

from PySide6.QtCore import QSize, QTimer
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence
from PySide6.QtWidgets import (QHBoxLayout, QLabel, QListWidget, QListWidgetItem, QMainWindow, QMenu,
                               QMessageBox, QStackedWidget, QWidget)

from flowerstudio.gui import dialogs, settings, worker
from flowerstudio.gui.dataset_page import DatasetPage
from flowerstudio.gui.drops import DropRouter
from flowerstudio.gui.evaluate_page import EvaluatePage
from flowerstudio.gui.predict_page import PredictPage
from flowerstudio.gui.state import AppState
from flowerstudio.gui.thumbnails import ThumbnailCache
from flowerstudio.gui.train_page import TrainPage

PAGES = ("Dataset", "Train", "Predict", "Check")
CHECK_PAGE = 3


class MainWindow(QMainWindow):
    """Dataset → Train → Predict → Check, in work order, in a sidebar."""

    def __init__(self, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Flower Studio")
        self.state = AppState(self)
        self.thumbs = ThumbnailCache(size=120, parent=self)
        self.dataset_page = DatasetPage(self.state, self.thumbs)
        self.train_page = TrainPage(self.state)
        self.predict_page = PredictPage(self.state, self.thumbs)
        self.evaluate_page = EvaluatePage(self.thumbs)

        self.sidebar = QListWidget()
        self.sidebar.setFixedWidth(130)
        self.sidebar.setIconSize(QSize(24, 24))
        self.sidebar.setStyleSheet("QListWidget { font-size: 15px; border: none; background: palette(window); }"
                                   "QListWidget::item { padding: 12px 10px; }"
                                   "QListWidget::item:selected { background: palette(highlight);"
                                   " color: palette(highlighted-text); border-radius: 4px; }")
        self.stack = QStackedWidget()
        for i, (title, page) in enumerate(zip(PAGES, self.pages())):
            QListWidgetItem(f"{i + 1}  {title}", self.sidebar)
            self.stack.addWidget(page)
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
        self.state.status_changed.connect(self._on_status)
        self.state.model_ready.connect(lambda p: self.run_label.setText(f"Latest model: {p}"))
        self.train_page.options.catalog_loaded.connect(self._on_catalog)
        self.train_page.options.preview_btn.clicked.connect(self.show_augment_preview)
        self.state.model_ready.connect(
            lambda p: self.evaluate_page.offer_model(p, self.state.scan.root if self.state.scan else ""))
        self.predict_page.model_loaded.connect(self.evaluate_page.offer_model)

        self._build_menu()
        self.drops = DropRouter(self)
        self.setAcceptDrops(True)
        self._restore()
        QTimer.singleShot(0, self.train_page.options.load_catalog_async)
        QTimer.singleShot(0, self._reopen_last_dataset)

    def pages(self) -> tuple[QWidget, ...]:
        return (self.dataset_page, self.train_page, self.predict_page, self.evaluate_page)

    # -- menu -----------------------------------------------------------------------------------
    def _build_menu(self) -> None:
        m = self.menuBar().addMenu("&File")
        self._action(m, "Open &dataset…", self._open_dataset, QKeySequence.StandardKey.Open)
        self._action(m, "Open &model…", self._open_model, "Ctrl+M")
        self.recent_datasets = m.addMenu("Recent datasets")
        self.recent_models = m.addMenu("Recent models")
        for menu, kind in ((self.recent_datasets, "datasets"), (self.recent_models, "models")):
            menu.aboutToShow.connect(lambda menu=menu, kind=kind: self._fill_recent(menu, kind))
        m.addSeparator()
        self._action(m, "&Quit", self.close, QKeySequence.StandardKey.Quit)
        h = self.menuBar().addMenu("&Help")
        self._action(h, "&About Flower Studio", self._about)

    def _action(self, menu: QMenu, text: str, slot, shortcut=None) -> QAction:
        act = menu.addAction(text)
        act.triggered.connect(slot)
        if shortcut is not None:
            act.setShortcut(QKeySequence(shortcut))
        return act

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
            self.go_to(0)
            self.dataset_page.open_folder(path)
        else:
            self.go_to(2)
            self.predict_page.load_model(path)

    def _open_dataset(self) -> None:
        self.go_to(0)
        self.dataset_page.choose_folder()

    def _open_model(self) -> None:
        self.go_to(2)
        self.predict_page.choose_model()

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
    def go_to(self, index: int) -> None:
        self.sidebar.setCurrentRow(index)

    def show_augment_preview(self) -> None:
        self.go_to(0)
        self.dataset_page.tabs.setCurrentWidget(self.dataset_page.preview)

    def _show_page(self, index: int) -> None:
        self.stack.setCurrentIndex(index)
        settings.put("window/page", index)
        if index == 2 and self.predict_page.model_path is None and not self.predict_page.is_busy():
            self.predict_page.load_default_model()
        if index == CHECK_PAGE:
            self.evaluate_page.load_default_model(self.state.output_dir)

    def _on_status(self, text: str) -> None:
        self.run_label.setText(text)

    def _on_catalog(self) -> None:
        devices = self.train_page.options.devices
        gpus = [name for dev, name in devices if dev != "cpu"]
        self.device_label.setText(f"Device: CUDA — {gpus[0]}" if gpus else "Device: CPU")

    # -- drag and drop ------------------------------------------------------------------------------
    def dragEnterEvent(self, event) -> None:
        self.drops.enter(event)

    def dropEvent(self, event) -> None:
        self.drops.drop(event)

    # -- geometry and closing ------------------------------------------------------------------------------
    def _restore(self) -> None:
        geometry = settings.settings().value("window/geometry")
        if geometry is not None:
            self.restoreGeometry(geometry)
        else:
            self.resize(1280, 820)
        self.go_to(min(max(settings.get("window/page", 0, int), 0), len(PAGES) - 1))

    def busy(self) -> bool:
        return self.train_page.is_busy() or self.evaluate_page.is_busy() or bool(worker.running_tasks())

    def closeEvent(self, event: QCloseEvent) -> None:
        if self.train_page.is_busy() and not dialogs.ask(
                self, "Training is running", "A training run is still going. Stop it and quit?\n\n"
                "The best model saved so far is kept.", yes="Stop and quit", no="Keep training"):
            event.ignore()
            return
        settings.put("window/geometry", self.saveGeometry())
        self.train_page.options.save()
        settings.sync()
        self.statusBar().showMessage("Stopping background work…")
        self.evaluate_page.shutdown()
        self.predict_page.shutdown()
        worker.stop_all()
        self.thumbs.shutdown()
        event.accept()
