"""The engine calls the GUI runs in the background (through ``jobs.run_job``), all in one place.

Each call imports its core module inside the function, so importing the GUI
stays light and torch loads on first use, on a job's thread, never on the GUI
thread. Nothing here touches Qt: results are core objects or PIL images, which
widgets turn into pixmaps on the GUI thread.
"""
from __future__ import annotations

import importlib
import threading
from typing import Optional

# The core modules that bring in torch, torchvision and timm, imported one thread at a time.
HEAVY_MODULES = ("flowerstudio.core.model.classifier", "flowerstudio.core.runtime.transforms", "flowerstudio.core.labelling.predict",
                 "flowerstudio.core.training.trainer")
_heavy_lock = threading.Lock()
_heavy_done = False


def import_heavy() -> None:
    """Import the torch side of the core; every call below that needs torch does this first.

    Two threads importing torchvision at the same moment can see it half-initialised
    ("cannot import name 'InterpolationMode' from partially initialized module"): the
    device list, the parameter count and a training run all start at once at start-up.
    """
    global _heavy_done
    if _heavy_done:
        return
    with _heavy_lock:
        if not _heavy_done:
            for name in HEAVY_MODULES:
                importlib.import_module(name)
            _heavy_done = True


# -- dataset and training ---------------------------------------------------------------------
def scan(root: str, callback=None, cancel=None):
    from flowerstudio.core.photos.scan import scan_dataset  # Pillow only: a scan never waits for torch

    return scan_dataset(root, callback=callback, cancel=cancel)


def devices() -> list[tuple[str, str]]:
    import_heavy()
    from flowerstudio.core.model.classifier import available_devices

    return available_devices()


def count_params(backbone: str, num_classes: int, mode: str, stages: int) -> tuple[int, int]:
    import_heavy()
    from flowerstudio.core.model.classifier import count_parameters

    return count_parameters(backbone, num_classes, mode, stages)


def train(config, callback=None, cancel=None):
    import_heavy()
    from flowerstudio.core.training.trainer import train as core_train

    return core_train(config, callback=callback, cancel=cancel)


def find_lr(config, start_lr: float, end_lr: float, num_steps: int, callback=None, cancel=None):
    import_heavy()
    from flowerstudio.core.training.lr_finder import find_lr as core_find_lr

    return core_find_lr(config, start_lr, end_lr, num_steps, callback=callback, cancel=cancel)


def augment_views(path: str, augment, input_size: int, backbone: str, n: int):
    """(the photo as validation sees it, [n augmented training views]) as PIL images."""
    import_heavy()
    from flowerstudio.core.runtime.preview import augment_views as core_views

    return core_views(path, augment, input_size, backbone, n)


def write_server_files(config, out_dir: str, nproc: int, fine_tune=None) -> tuple[str, str]:
    from flowerstudio.core.training.server_run import export_for_server

    path, command = export_for_server(config, out_dir, nproc, fine_tune)
    return str(path), command


# -- prediction ------------------------------------------------------------------------------
def load_predictor(path: str, device: str = "auto"):
    """A frozen-stage model predicts from cached features when it can (a retrain's refresh takes seconds)."""
    import_heavy()
    from flowerstudio.core.labelling.cached_predict import fast_predictor

    return fast_predictor(path, device)


def list_images(paths: list[str]) -> list[str]:
    import_heavy()  # core.predict imports torch
    from flowerstudio.core.labelling.predict import list_images as core_list_images

    return core_list_images(paths, recursive=True)


def predict(predictor, paths: list[str], callback=None, cancel=None):
    return predictor.predict(paths, batch_size=32, top_k=5, callback=callback, cancel=cancel)


def write_csv(predictions, path: str) -> str:
    from flowerstudio.core.labelling.predict import write_csv as core_write_csv

    core_write_csv(predictions, path)
    return path


def sort_into(predictions, dest: str, min_confidence: float, move: bool, names: list[str], log_path: str):
    """Sort, then log what was written (for "Undo last sort")."""
    from flowerstudio.core.photos.sort_log import write_log
    from flowerstudio.core.photos.sorting import sort_into as core_sort_into

    summary = core_sort_into(predictions, dest, min_confidence=min_confidence, move=move, names=names)
    write_log(summary, log_path)
    return summary


def undo_sort(log_path: str):
    from flowerstudio.core.photos.sort_log import undo_sort as core_undo

    return core_undo(log_path)


def add_reviewed(labels: dict[str, str], folders: dict[str, str], log_path: str):
    """Copy reviewed photos into the training folders, then log what was written (for undo)."""
    from flowerstudio.core.photos.review import add_to_dataset
    from flowerstudio.core.photos.sort_log import write_log

    summary = add_to_dataset(labels, folders)
    write_log(summary, log_path)
    return summary


def retrain(model_path: str, data_dir: str, callback=None, cancel=None):
    """The frozen stage again on the grown dataset (only new photos are extracted)."""
    import_heavy()
    from flowerstudio.core.training.retrain import retrain_head

    return retrain_head(model_path, callback=callback, cancel=cancel, data_dir=data_dir)


def heatmap(model_path: str, image_path: str, target: Optional[int] = None):
    """The photo as the model sees it with the Grad-CAM heat over it (PIL)."""
    import_heavy()
    from flowerstudio.core.labelling.gradcam import heatmap_image

    return heatmap_image(model_path, image_path, target)


def export_model(model_path: str, out_path: str, fmt: str, check_folder: str = "", overwrite: bool = False,
                 cancel=None):
    import_heavy()
    from flowerstudio.core.labelling.export import choose_check_photos, export_model as core_export

    photos = choose_check_photos(check_folder) if check_folder else []
    return core_export(model_path, out_path, fmt, verify_images=photos, overwrite=overwrite, cancel=cancel)


def cache_size() -> int:
    from flowerstudio.core.foundation.cachedisk import cache_size_bytes

    return cache_size_bytes()


def clear_cache() -> int:
    from flowerstudio.core.foundation.cachedisk import clear_cache as core_clear

    return core_clear()


# -- the dataset's problems (the Review page) -----------------------------------------------
def diagnose(data_dir: str, config, callback=None, cancel=None):
    import_heavy()
    from flowerstudio.core.doctor.diagnose import diagnose as core_diagnose
    from flowerstudio.core.foundation.events import ignore

    return core_diagnose(data_dir, config, callback=callback or ignore, cancel=cancel)


def fix(action: str, data_dir: str, paths: list[str], to_class: str = "", finding: str = ""):
    """One review decision on the dataset folder; returns what undo_fix needs to take it back."""
    from flowerstudio.core.photos import edits as dataset_edits
    from flowerstudio.core.photos import lists as dataset_lists

    if action == "move":
        return dataset_edits.move_photo(data_dir, paths[0], to_class)
    if action == "exclude":
        dataset_lists.add_exclusions(data_dir, paths)
        return paths
    dataset_lists.add_keep(data_dir, finding, *paths)
    return finding, paths


def undo_fix(action: str, data_dir: str, record) -> None:
    from flowerstudio.core.photos import edits as dataset_edits
    from flowerstudio.core.photos import lists as dataset_lists

    if action == "move":
        dataset_edits.undo(record)
    elif action == "exclude":
        dataset_lists.remove_exclusions(data_dir, record)
    elif action == "keep":
        finding, paths = record
        dataset_lists.remove_keep(data_dir, finding, *paths)


# -- checking a model ----------------------------------------------------------------------------
def evaluate(model_path: str, data_dir: str, split: str, device: str = "auto", callback=None, cancel=None):
    import_heavy()
    from flowerstudio.core.labelling.evaluate import evaluate as core_evaluate
    from flowerstudio.core.foundation.events import Cancelled, ignore

    report = core_evaluate(model_path, data_dir, split, device=device, callback=callback or ignore, cancel=cancel)
    if report.cancelled:
        # A partial confusion matrix would read as a finished one: report "stopped" instead.
        raise Cancelled()
    return report


def save_report(report, out_dir: str) -> list[str]:
    return [str(p) for p in report.save(out_dir)]
