"""A section that opens and closes with a click and remembers which it was (Teachable Machine's "Advanced")."""
from __future__ import annotations

from typing import Optional

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QToolButton, QVBoxLayout, QWidget

from flowerstudio.gui import settings


class Collapsible(QWidget):
    """``body`` holds the section's widgets; the open/closed state is kept under ``settings_key``."""

    def __init__(self, title: str, settings_key: str, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self._key = settings_key
        self.toggle = QToolButton()
        self.toggle.setText(title)
        self.toggle.setCheckable(True)
        self.toggle.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.toggle.setStyleSheet("QToolButton { border: none; font-weight: bold; }")
        self.body = QWidget()
        self.body_layout = QVBoxLayout(self.body)
        self.body_layout.setContentsMargins(0, 0, 0, 0)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.toggle)
        lay.addWidget(self.body)
        self.toggle.toggled.connect(self._show)
        self.toggle.setChecked(settings.get(settings_key, False, bool))
        self._show(self.toggle.isChecked())

    def _show(self, opened: bool) -> None:
        self.toggle.setArrowType(Qt.ArrowType.DownArrow if opened else Qt.ArrowType.RightArrow)
        self.body.setVisible(opened)
        settings.put(self._key, opened)
