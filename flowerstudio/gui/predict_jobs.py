"""Background jobs of the Predict page: they call the core, nothing more."""
from __future__ import annotations

from typing import Optional


def default_model(runs_dir: str = "") -> Optional[str]:
    """The best model of the latest run, if there is one."""
    from flowerstudio.core.runs import best_model_path, latest_run

    run = latest_run(runs_dir or None)
    return str(best_model_path(run)) if run is not None else None


def load_predictor(path: str, device: str = "auto"):
    """A core Predictor (imports torch; loads the model once)."""
    from flowerstudio.gui.worker import import_heavy

    import_heavy()
    from flowerstudio.core.predict import Predictor

    return Predictor(path, device)


def list_images(paths: list[str]) -> list[str]:
    from flowerstudio.gui.worker import import_heavy

    import_heavy()  # core.predict imports torch
    from flowerstudio.core.predict import list_images as core_list_images

    return core_list_images(paths, recursive=True)


def predict(predictor, paths: list[str], batch_size: int = 32, callback=None, cancel=None):
    return predictor.predict(paths, batch_size=batch_size, top_k=5, callback=callback, cancel=cancel)


def true_labels(paths: list[str], classes: list[str]) -> list[Optional[int]]:
    from flowerstudio.core.predict import true_label

    return [true_label(p, classes) for p in paths]


def export_csv(predictions, path: str) -> str:
    from flowerstudio.core.predict import write_csv

    write_csv(predictions, path)
    return path


def sort_into(predictions, dest: str, min_confidence: float, move: bool):
    from flowerstudio.core.sorting import sort_into as core_sort_into

    return core_sort_into(predictions, dest, min_confidence=min_confidence, move=move)
