"""The feature cache's size on disk, with a button that clears it."""
from __future__ import annotations

from typing import Optional

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QWidget

from flowerstudio.gui import engine
from flowerstudio.gui.jobs import run_job


class CacheRow(QWidget):
    def __init__(self, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.label = QLabel("Feature cache: …")
        self.label.setToolTip("Backbone features of your photos, kept so that retraining takes seconds.\n"
                              "Clearing it loses nothing: they are computed again when needed.")
        self.clear_btn = QPushButton("Clear")
        self.clear_btn.clicked.connect(self.clear)
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.label, 1)
        lay.addWidget(self.clear_btn)
        QTimer.singleShot(0, self.show_size)

    def show_size(self) -> None:
        run_job(engine.cache_size, title="Measuring the feature cache", owner=self,
                on_result=lambda size: self.label.setText(f"Feature cache: {size / 1e6:.0f} MB"),
                on_error=lambda _m, _d: self.label.setText("Feature cache: size unknown"))

    def clear(self) -> None:
        self.clear_btn.setEnabled(False)
        run_job(engine.clear_cache, title="Clearing the feature cache", owner=self,
                on_result=lambda freed: self.label.setText(f"Feature cache: cleared {freed / 1e6:.0f} MB"),
                on_done=lambda: self.clear_btn.setEnabled(True))
