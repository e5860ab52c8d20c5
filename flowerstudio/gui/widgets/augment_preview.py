"""One photo as the model sees it, plus random augmented versions of it."""
from __future__ import annotations

import copy
from typing import Optional

from PySide6.QtCore import Qt
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import QGridLayout, QHBoxLayout, QLabel, QPushButton, QScrollArea, QVBoxLayout, QWidget

from flowerstudio.gui import engine
from flowerstudio.gui.jobs import Job, run_job
from flowerstudio.core.foundation.fsnames import display_path
from flowerstudio.gui.state import AppState
from flowerstudio.gui.style import esc
from flowerstudio.gui.widgets.thumbnails import pil_to_qimage

N_VIEWS = 8
TILE = 140  # largest tile; smaller when the page is narrow (a 1366-pixel laptop screen)
MIN_TILE = 80


class AugmentPreview(QWidget):
    """Shows the sample photo after the eval transform and N_VIEWS training transforms.

    Follows the augmentation switches on the Train page through AppState.
    """

    def __init__(self, state: AppState, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.state = state
        self.path: Optional[str] = None
        self.task: Optional[Job] = None
        self._again = False
        self._stale = True
        self._images: list = []  # the rendered views as QImages, rescaled when the page resizes
        self.info = QLabel("Select a photo in the Photos tab (double-click) to preview it here.")
        self.info.setWordWrap(True)
        self.regen_btn = QPushButton("New random versions")
        self.regen_btn.setEnabled(False)
        self.regen_btn.clicked.connect(self.refresh)
        head = QHBoxLayout()
        head.addWidget(self.info, 1)
        head.addWidget(self.regen_btn)
        self.plain = QLabel()
        self.plain.setFixedSize(TILE, TILE)
        self.plain.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.tiles = [QLabel() for _ in range(N_VIEWS)]
        grid = QGridLayout()
        grid.addWidget(QLabel("<b>As the model sees it</b><br>(validation &amp; prediction)"), 0, 0)
        grid.addWidget(self.plain, 1, 0)
        grid.addWidget(QLabel("<b>Random training versions</b> (change them under Advanced on the Train page)"),
                       0, 1, 1, 4)
        for i, tile in enumerate(self.tiles):
            tile.setFixedSize(TILE, TILE)
            tile.setAlignment(Qt.AlignmentFlag.AlignCenter)
            tile.setStyleSheet("background: #f0f0f0;")
            grid.addWidget(tile, 1 + i // 4, 1 + i % 4)
        grid.setColumnStretch(5, 1)
        grid.setRowStretch(3, 1)
        tiles = QWidget()
        tiles.setLayout(grid)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        scroll.setWidget(tiles)
        lay = QVBoxLayout(self)
        lay.addLayout(head)
        lay.addWidget(scroll, 1)
        state.augment_changed.connect(self._on_augment_changed)

    def set_sample(self, path: str) -> None:
        if path == self.path:
            return
        self.path = path
        self.regen_btn.setEnabled(True)
        if self.isVisible():
            self.refresh()
        else:
            self._stale = True

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if self.path and self._stale:
            self.refresh()

    def _on_augment_changed(self) -> None:
        self._stale = True
        if self.isVisible() and self.path:
            self.refresh()

    def refresh(self) -> None:
        if not self.path:
            return
        self._stale = False
        if self.task is not None and self.task.running:
            self._again = True  # render once more with the newest settings when this one ends
            return
        s = self.state
        self.info.setText(f"{self.describe()} · drawing…")
        self._images = []
        for tile in [self.plain] + self.tiles:  # views of the old settings must not pass for the new ones
            tile.clear()
        self.task = run_job(engine.augment_views, self.path, copy.deepcopy(s.augment), s.input_size, s.backbone,
                            N_VIEWS, title="Augmentation preview", owner=self, on_result=self._on_rendered,
                            on_error=lambda msg, _d: self.info.setText(f"Cannot preview this photo: {msg}"),
                            on_done=self._after)

    def describe(self) -> str:
        """The photo, and what the views were made for: the size and the model chosen on the Train page."""
        from flowerstudio.core.model.backbones import BACKBONES  # plain data, no torch

        spec = BACKBONES.get(self.state.backbone)
        model = spec.title.split(" (")[0] if spec is not None else self.state.backbone
        return f"{esc(display_path(self.path))}<br>At {self.state.input_size} px, for {esc(model)}"

    def _after(self) -> None:
        if self._again:
            self._again = False
            self.refresh()

    def _on_rendered(self, result) -> None:
        plain, views = result
        self.info.setText(self.describe())
        self._images = [pil_to_qimage(img) for img in [plain] + list(views)]
        self._show_images()

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        # Five tiles across (the plain view and four training views) in whatever width the page gives.
        size = max(MIN_TILE, min(TILE, (self.width() - 60) // 5 - 8))
        if size != self.plain.width():
            for tile in [self.plain] + self.tiles:
                tile.setFixedSize(size, size)
            self._show_images()

    def _show_images(self) -> None:
        for tile, img in zip([self.plain] + self.tiles, self._images):
            tile.setPixmap(QPixmap.fromImage(img).scaled(tile.width(), tile.height(), Qt.AspectRatioMode.KeepAspectRatio,
                                                         Qt.TransformationMode.SmoothTransformation))



