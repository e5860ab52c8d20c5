"""Where a folder or files dropped on the window (or named on the command line) go."""
from __future__ import annotations

import os

from PySide6.QtCore import QMimeData

from flowerstudio.gui.state import Page


def local_paths(mime: QMimeData) -> list[str]:
    if not mime.hasUrls():
        return []
    return [u.toLocalFile() for u in mime.urls() if u.isLocalFile() and u.toLocalFile()]


def route_drop(paths: list[str], on_predict: bool) -> Page:
    """A model file or photos -> Predict; one folder -> Dataset, unless the Predict page is
    showing, where a folder means photos to label."""
    if any(p.lower().endswith(".safetensors") for p in paths):
        return Page.PREDICT
    if len(paths) == 1 and os.path.isdir(paths[0]) and not on_predict:
        return Page.DATASET
    return Page.PREDICT
