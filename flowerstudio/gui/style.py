"""What the pages share in look and small habits: colours, rich-text snippets, form rows, file actions."""
from __future__ import annotations

import html
import os
from typing import Optional

from PySide6.QtCore import QUrl
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QDoubleSpinBox, QHBoxLayout, QPushButton, QSpinBox, QWidget

# Right / wrong everywhere (gallery frames, confusion matrix, top-k bars, export verdict).
GOOD = "#2e9e44"
BAD = "#d0312d"
ERROR_TEXT = "#b00020"  # "this folder cannot be used", "training failed"
WARNING_TEXT = "#a15c00"  # imbalance, skipped files
NEUTRAL = "#4c72b0"  # plain bars
# The training curves: one colour per split, the same in every plot and legend.
TRAIN = "#1f77b4"
VALIDATION = "#ff7f0e"
LEARNING_RATE = "#2ca02c"
BEST = "#d62728"
STAGE = "#7f7f7f"


def esc(text: str) -> str:
    """Plain text (a file name, a class name, an engine message) made safe for a rich-text label:
    "root/<class>/photo.jpg" must not lose "<class>" as an unknown tag."""
    return html.escape(str(text), quote=False)


def error_html(text: str) -> str:
    return f"<span style='color:{ERROR_TEXT}'>{text}</span>"


def warning_html(text: str) -> str:
    return f"<span style='color:{WARNING_TEXT}'>{text}</span>"


def with_button(field: QWidget, button: QPushButton) -> QWidget:
    """A form field with a button on its right (Browse…, Find…)."""
    row = QWidget()
    lay = QHBoxLayout(row)
    lay.setContentsMargins(0, 0, 0, 0)
    lay.addWidget(field, 1)
    lay.addWidget(button)
    return row


def spin_box(lo: int, hi: int, value: int, step: int = 1) -> QSpinBox:
    box = QSpinBox()
    box.setRange(lo, hi)
    box.setSingleStep(step)
    box.setValue(value)
    return box


def rate_box(value: float) -> QDoubleSpinBox:
    """A learning rate: six decimals, from 0.000001 to 1."""
    box = QDoubleSpinBox()
    box.setDecimals(6)
    box.setRange(0.000001, 1.0)
    box.setSingleStep(0.0001)
    box.setValue(value)
    return box


def open_file(path: str) -> bool:
    return QDesktopServices.openUrl(QUrl.fromLocalFile(path))


def show_in_folder(path: str) -> bool:
    """Opens the folder holding ``path`` (or ``path`` itself when it is a folder) in the file manager."""
    folder = path if os.path.isdir(path) else os.path.dirname(path)
    return QDesktopServices.openUrl(QUrl.fromLocalFile(folder))


def fmt_duration(seconds: float) -> str:
    """'3 s', '3 min 05 s', '1 h 02 min': a run of seconds never shows as '0.0 min'."""
    seconds = int(round(seconds))
    if seconds >= 3600:
        return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"
    if seconds >= 60:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds} s"


def fmt_eta(seconds: Optional[float]) -> str:
    """'3 min 05 s left'."""
    return "" if seconds is None else f"{fmt_duration(seconds)} left"


def model_details(path: str) -> tuple[str, Optional[str]]:
    """One line about a model file (its header only), and the folder it was trained on if it still exists."""
    from flowerstudio.core.model.model_file import read_model_info

    info = read_model_info(path)
    line = (f"{info.backbone} · {len(info.classes)} classes · {info.input_size} px · "
            f"{100 * info.best_val_acc:.1f} % of its validation photos right")
    folder = (info.config or {}).get("data_dir") or ""
    return line, (folder if folder and os.path.isdir(folder) else None)
