"""What the pages share: the scanned dataset, augmentation choices, the latest model."""
from __future__ import annotations

from typing import Any, Optional

from PySide6.QtCore import QObject, Signal

from flowerstudio.core.config import AugmentConfig


class AppState(QObject):
    """One per window; pages read it and listen to its signals instead of each other."""

    scan_changed = Signal(object)  # core DatasetScan or None
    augment_changed = Signal()
    model_ready = Signal(str)  # path of a freshly trained best model
    status_changed = Signal(str)  # short text for the status bar ("Training epoch 3/10")
    busy_changed = Signal(bool)

    def __init__(self, parent: Optional[QObject] = None) -> None:
        super().__init__(parent)
        self.scan: Any = None
        self.augment = AugmentConfig()
        self.input_size = 224
        self.backbone = "efficientnet_lite0"
        self.output_dir = ""  # where runs go; "" = the core's default
        self.last_model: Optional[str] = None

    def set_scan(self, scan: Any) -> None:
        self.scan = scan
        self.scan_changed.emit(scan)

    def set_augment(self, augment: AugmentConfig, input_size: int, backbone: str) -> None:
        self.augment, self.input_size, self.backbone = augment, input_size, backbone
        self.augment_changed.emit()

    def set_model(self, path: str) -> None:
        self.last_model = path
        self.model_ready.emit(path)

    def set_status(self, text: str) -> None:
        self.status_changed.emit(text)
