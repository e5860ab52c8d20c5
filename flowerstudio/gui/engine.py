"""The engine calls the GUI runs in the background (through ``jobs.run_job``), all in one place.

Each call imports its core module inside the function, so importing the GUI stays light and torch loads
on first use, on a job's thread, never on the GUI thread. Nothing here touches Qt, and nothing here
decides anything: every choice (which photos, which split, which model wins, what to train next) is the
core's; these functions only pass the GUI's inputs through.
"""
from __future__ import annotations

import importlib
import threading
from typing import Optional

# The core modules that bring in torch, torchvision and timm, imported one thread at a time.
HEAVY_MODULES = ("flowerstudio.core.model.classifier", "flowerstudio.core.runtime.transforms",
                 "flowerstudio.core.labelling.predict", "flowerstudio.core.training.trainer")
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
            from flowerstudio.core.runtime.torch_pair import import_torchvision

            import_torchvision()  # a mismatched pair says so in words, not as "operator ... does not exist"
            for name in HEAVY_MODULES:
                importlib.import_module(name)
            _heavy_done = True


def _run(run_dir: Optional[str]):
    from flowerstudio.core.runs.record import RunRecord

    return RunRecord.load(run_dir) if run_dir else None


# -- dataset and training ---------------------------------------------------------------------
def scan(root: str, run_dir: Optional[str] = None, callback=None, cancel=None):
    """The dataset as the model in use sees it (its run's split), Pillow only: a scan never waits for torch."""
    from flowerstudio.core.foundation.events import ignore
    from flowerstudio.core.runs.record import scan_as_trained

    return scan_as_trained(root, _run(run_dir), callback or ignore, cancel)


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


def advice(run_dir: str):
    """The advice after the run's last stage, and the stage it plans (core/training/next_stage.py)."""
    import_heavy()
    from flowerstudio.core.training.next_stage import advice_for_run

    return advice_for_run(_run(run_dir))


def run_plan(run_dir: str, plan, device: str, output_dir: str, callback=None, cancel=None):
    """The second button: the plan's stage, or the stopped stage's last rounds (core/training/next_stage.py)."""
    import_heavy()
    from flowerstudio.core.training.next_stage import run_plan as core_run_plan

    return core_run_plan(_run(run_dir), plan, callback, cancel, device=device, output_dir=output_dir)


def next_config(run_dir: str, plan):
    """The config of the stage ``plan`` describes, continuing the run's best model (small files: no torch)."""
    from flowerstudio.core.training.plan import next_config as core_next

    return core_next(_run(run_dir), plan)


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


def retrain(model_path: str, data_dir: str, callback=None, cancel=None):
    """The frozen stage again on the grown dataset (only new photos are extracted): (result, verdict)."""
    import_heavy()
    from flowerstudio.core.training.retrain import retrain_head

    return retrain_head(model_path, callback=callback, cancel=cancel, data_dir=data_dir)


# -- prediction ------------------------------------------------------------------------------
def load_predictor(path: str, device: str = "auto"):
    """A frozen-stage model predicts from cached features when it can (a retrain's refresh takes seconds)."""
    import_heavy()
    from flowerstudio.core.labelling.cached_predict import fast_predictor

    return fast_predictor(path, device)


def list_images(paths: list[str]) -> list[str]:
    import_heavy()  # core.labelling.predict imports torch
    from flowerstudio.core.labelling.predict import list_images as core_list_images

    return core_list_images(paths, recursive=True)


def predict(predictor, paths: list[str], callback=None, cancel=None):
    return predictor.predict(paths, batch_size=32, callback=callback, cancel=cancel)


def write_csv(predictions, path: str) -> str:
    from flowerstudio.core.labelling.predict import write_csv as core_write_csv

    core_write_csv(predictions, path)
    return path


def sort_preview(predictions, dest: str, min_confidence: float, move: bool, reviewed: dict[str, str]) -> str:
    from flowerstudio.core.photos.sorting import preview

    return preview(predictions, min_confidence, move, dest, reviewed)


def sort_into(predictions, dest: str, min_confidence: float, move: bool, names: list[str],
              reviewed: dict[str, str]):
    """Sort (photos the user reviewed go to the class they gave them), then log it for undo: (summary, log)."""
    from flowerstudio.core.photos.sort_log import sort_and_log

    return sort_and_log(predictions, dest, min_confidence, move, names, reviewed)


def last_log(kind: str) -> Optional[str]:
    """The newest sort (or addition) that can still be undone, if any; after a restart too."""
    from flowerstudio.core.photos.sort_log import latest_log

    log = latest_log(kind)
    return str(log) if log is not None else None


def undo_sort(log_path: str):
    from flowerstudio.core.photos.sort_log import undo_sort as core_undo

    return core_undo(log_path)


def add_reviewed(store, folders: dict[str, str], only: set[str]):
    """Copy the reviewed photos not added yet into the training folders: (summary, undo log)."""
    from flowerstudio.core.photos.review import add_to_dataset

    return add_to_dataset(store, folders, only)


def undo_add(store, log_path: str):
    from flowerstudio.core.photos.review import undo_add as core_undo_add

    return core_undo_add(store, log_path)


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
def diagnose(data_dir: str, config, run_dir: Optional[str] = None, callback=None, cancel=None):
    """The doctor's findings; with the run of the model in use, its split decides the leaks."""
    import_heavy()
    from flowerstudio.core.doctor.diagnose import diagnose as core_diagnose
    from flowerstudio.core.foundation.events import ignore

    return core_diagnose(data_dir, config, callback=callback or ignore, cancel=cancel, run=_run(run_dir))


def fix(action, data_dir: str, paths: list[str], to_class: str = "", finding: str = ""):
    """One review decision (a FixAction) on the dataset folder; returns what undo_fix needs to take it back."""
    from flowerstudio.core.foundation.vocab import FixAction
    from flowerstudio.core.photos import edits, lists

    action = FixAction(action)
    if action == FixAction.MOVE:
        return edits.move_photo(data_dir, paths[0], to_class)
    if action == FixAction.EXCLUDE:
        lists.add_exclusions(data_dir, paths)
        return paths
    lists.add_keep(data_dir, finding, *paths)
    return finding, paths


def recorded_moves(data_dir: str) -> list:
    """The moves of the dataset's log not undone yet (small files, no torch): Undo takes them back."""
    from flowerstudio.core.photos.edits import read_moves
    from flowerstudio.core.photos.lists import EditError

    try:
        return read_moves(data_dir)
    except EditError:
        return []  # an unreadable log: nothing to offer, the moves themselves are done


def undo_fix(action, data_dir: str, record) -> None:
    from flowerstudio.core.foundation.vocab import FixAction
    from flowerstudio.core.photos import edits, lists

    action = FixAction(action)
    if action == FixAction.MOVE:
        edits.undo(record)
    elif action == FixAction.EXCLUDE:
        lists.remove_exclusions(data_dir, record)
    else:
        finding, paths = record
        lists.remove_keep(data_dir, finding, *paths)


# -- checking a model ----------------------------------------------------------------------------
def evaluate(model_path: str, data_dir: str, split: str, device: str = "auto", callback=None, cancel=None):
    """The report (its ``photos_used`` and ``notes`` say which photos); a stop raises Cancelled."""
    import_heavy()
    from flowerstudio.core.foundation.events import ignore
    from flowerstudio.core.labelling.evaluate import evaluate as core_evaluate

    return core_evaluate(model_path, data_dir, split, device=device, callback=callback or ignore, cancel=cancel)


def save_report(report, out_dir: str) -> tuple[list[str], list[str]]:
    written, failed = report.save(out_dir)
    return [str(p) for p in written], failed


# -- start-up -------------------------------------------------------------------------------------
def gpu_driver_present() -> bool:
    """Whether this computer has a GPU driver torch could use, asked of the system, not torch (importing torch
    takes seconds). Without one the device list is the CPU alone, known at once: no NVIDIA driver
    (/proc/driver/nvidia, nvidia-smi on PATH) and no ROCm one (/dev/kfd, torch.cuda on AMD GPUs)."""
    import os
    import shutil

    return any(os.path.exists(p) for p in ("/proc/driver/nvidia", "/dev/kfd")) or bool(shutil.which("nvidia-smi"))
