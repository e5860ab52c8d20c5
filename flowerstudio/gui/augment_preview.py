"""One photo as the model sees it, plus random augmented versions of it."""
from __future__ import annotations

import copy
from typing import Optional

from PySide6.QtCore import Qt
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import QGridLayout, QHBoxLayout, QLabel, QPushButton, QScrollArea, QVBoxLayout, QWidget

from flowerstudio.gui.state import AppState
from flowerstudio.gui.worker import Task, import_heavy

N_VIEWS = 8
TILE = 140


def render_views(path: str, augment, input_size: int, backbone: str, n: int = N_VIEWS):
    """(plain view, [augmented views]) as QImages; runs in a worker thread (imports torch)."""
    import_heavy()
    from flowerstudio.core.imageio import load_image
    from flowerstudio.core.backbones import get_spec
    from flowerstudio.core.transforms import build_eval_transform, build_train_transform, denormalize

    spec = get_spec(backbone)
    img = load_image(path)
    plain = build_eval_transform(input_size, spec.mean, spec.std, augment)
    train = build_train_transform(augment, input_size, spec.mean, spec.std)

    def to_qimage(tensor) -> QImage:
        arr = (denormalize(tensor, spec.mean, spec.std) * 255).round().byte().permute(1, 2, 0).contiguous().numpy()
        h, w, _ = arr.shape
        return QImage(arr.tobytes(), w, h, 3 * w, QImage.Format.Format_RGB888).copy()

    return to_qimage(plain(img)), [to_qimage(train(img)) for _ in range(n)]


class AugmentPreview(QWidget):
    """Shows the sample photo after the eval transform and N_VIEWS training transforms.

    Follows the augmentation switches on the Train page through AppState.
    """

    def __init__(self, state: AppState, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.state = state
        self.path: Optional[str] = None
        self.task: Optional[Task] = None
        self._again = False
        self._stale = True
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
        grid.addWidget(QLabel("<b>Random training versions</b> (change the switches on the Train page)"), 0, 1, 1, 4)
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
        self.info.setText(f"{self.path}<br>input size {s.input_size}px · backbone {s.backbone} · rendering…")
        self.task = Task(render_views, self.path, copy.deepcopy(s.augment), s.input_size, s.backbone,
                         name="augment-preview", pass_callback=False, pass_cancel=False, parent=self)
        self.task.finished.connect(self._on_rendered)
        self.task.failed.connect(lambda msg, _d: self.info.setText(f"Cannot preview this photo: {msg}"))
        self.task.done.connect(self._after)
        self.task.start()

    def _after(self) -> None:
        if self._again:
            self._again = False
            self.refresh()

    def _on_rendered(self, result) -> None:
        plain, views = result
        s = self.state
        self.info.setText(f"{self.path}<br>input size {s.input_size}px · backbone {s.backbone}")
        self.plain.setPixmap(_fit(plain))
        for tile, img in zip(self.tiles, views):
            tile.setPixmap(_fit(img))

    def views_shown(self) -> int:
        return sum(1 for t in self.tiles if t.pixmap() is not None and not t.pixmap().isNull())


def _fit(img: QImage) -> QPixmap:
    return QPixmap.fromImage(img).scaled(TILE, TILE, Qt.AspectRatioMode.KeepAspectRatio,
                                         Qt.TransformationMode.SmoothTransformation)
