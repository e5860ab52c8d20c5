"""Where a folder or files dropped on the window go."""
from __future__ import annotations

import os

from PySide6.QtCore import QMimeData


def local_paths(mime: QMimeData) -> list[str]:
    if not mime.hasUrls():
        return []
    return [u.toLocalFile() for u in mime.urls() if u.isLocalFile() and u.toLocalFile()]


class DropRouter:
    """Routes drops: a model file -> Predict; photos -> Predict; a folder -> Dataset,
    unless the Predict page is showing, where a folder means photos to label."""

    def __init__(self, window) -> None:
        self.window = window

    def enter(self, event) -> None:
        if local_paths(event.mimeData()):
            event.acceptProposedAction()

    def drop(self, event) -> None:
        paths = local_paths(event.mimeData())
        if paths:
            event.acceptProposedAction()
            self.route(paths)

    def route(self, paths: list[str]) -> str:
        """Returns where they went: 'model', 'predict' or 'dataset'."""
        w = self.window
        models = [p for p in paths if p.lower().endswith(".safetensors")]
        if models:
            w.go_to(2)
            w.predict_page.load_model(models[0])
            return "model"
        on_predict = w.stack.currentWidget() is w.predict_page
        if len(paths) == 1 and os.path.isdir(paths[0]) and not on_predict:
            w.go_to(0)
            w.dataset_page.open_folder(paths[0])
            return "dataset"
        w.go_to(2)
        w.predict_page.add_paths(paths)
        return "predict"
