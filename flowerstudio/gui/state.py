"""The one state the pages share: dataset, runs folder, device, augmentation, the current model.

Pages read it and listen to its signals; they never reach into each other.
"""
from __future__ import annotations

import os
from enum import Enum
from typing import Any, Optional

from PySide6.QtCore import QObject, Signal

from flowerstudio.core.foundation.config import AugmentConfig, TrainConfig


class Page(Enum):
    """The main window's pages, in work order; the value is the title in the sidebar."""

    DATASET = "Dataset"
    REVIEW = "Review"
    TRAIN = "Train"
    PREDICT = "Predict"
    CHECK = "Check"


class AppState(QObject):
    """One per window."""

    scan_changed = Signal(object)  # core DatasetScan, or None after a failed scan
    augment_changed = Signal()
    runs_dir_changed = Signal(str)
    devices_changed = Signal()  # the device list is known (at once without a GPU driver, else after torch loads)
    engine_loaded = Signal()  # torch and the core's torch side are imported (in the background, at start-up)
    model_changed = Signal(str)  # the model to predict with and check: freshly trained or opened
    status_changed = Signal(str)  # short text for the status bar ("Training epoch 3/10")
    dataset_changed = Signal(bool)  # photos were added to (or taken back from) the dataset: scan it again

    def __init__(self, parent: Optional[QObject] = None) -> None:
        super().__init__(parent)
        defaults = TrainConfig()
        self.scan: Any = None
        self.augment = defaults.augment
        self.input_size = defaults.input_size
        self.backbone = defaults.backbone
        self.runs_dir = ""  # where runs go and are looked for; "" = the core's default folder
        self.devices: list[tuple[str, str]] = [("cpu", "CPU")]
        self.device_problem = ""  # why looking for a GPU failed, if it did (the CPU is used)
        self.devices_known = False  # until then the list is the CPU alone, as a default
        self.model_path: Optional[str] = None
        self.run_dir: Optional[str] = None  # the run folder of the model in use: its split is the truth

    def set_scan(self, scan: Any) -> None:
        self.scan = scan
        self.scan_changed.emit(scan)

    def set_augment(self, augment: AugmentConfig, input_size: int, backbone: str) -> None:
        self.augment, self.input_size, self.backbone = augment, input_size, backbone
        self.augment_changed.emit()

    def set_runs_dir(self, path: str) -> None:
        if path != self.runs_dir:
            self.runs_dir = path
            self.runs_dir_changed.emit(path)

    def set_devices(self, devices: list[tuple[str, str]], problem: str = "") -> None:
        self.devices, self.device_problem, self.devices_known = list(devices), problem, True
        self.devices_changed.emit()

    def device_text(self) -> str:
        """The status bar's device line: a failed GPU check says so, rather than quietly showing the CPU."""
        if not self.devices_known:
            return "Device: …"
        gpu = self.gpu_name()
        if gpu:
            return f"Device: CUDA — {gpu}"
        return "Device: CPU (the GPU check failed)" if self.device_problem else "Device: CPU"

    def set_engine_loaded(self) -> None:
        self.engine_loaded.emit()

    def set_model(self, path: str) -> None:
        """Emits even for the same path: a fine-tune rewrites best.safetensors in place."""
        self.model_path = path
        folder = os.path.dirname(os.path.abspath(path))
        self.run_dir = folder if os.path.isfile(os.path.join(folder, "config.json")) else None
        self.model_changed.emit(path)

    def split_run(self, root: str) -> Optional[str]:
        """The run whose split a scan of ``root`` uses: the model in use's, when it was trained on ``root``."""
        from flowerstudio.core.runs.record import RunRecord, RunError

        if not self.run_dir or not root:
            return None
        try:
            return self.run_dir if RunRecord.load(self.run_dir).trained_on(root) else None
        except RunError:
            return None

    def set_status(self, text: str) -> None:
        self.status_changed.emit(text)

    def latest_model(self) -> Optional[str]:
        """The best model of the newest run in the runs folder (reads the folder listing only)."""
        from flowerstudio.core.runs.folders import best_model_path, latest_run

        run = latest_run(self.runs_dir or None)
        return str(best_model_path(run)) if run is not None else None

    def dataset_root(self) -> str:
        return self.scan.root if self.scan is not None else ""

    def gpu_name(self) -> Optional[str]:
        gpus = [name for dev, name in self.devices if dev != "cpu"]
        return gpus[0] if gpus else None

    def has_dataset(self) -> bool:
        return self.scan is not None and bool(getattr(self.scan, "classes", None))
