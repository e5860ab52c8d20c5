"""Run folders: where a training run keeps its config, split, history and model files.

    <runs>/<YYYYmmdd-HHMMSS>-<backbone>/
        config.json  split.json  history.csv  history.json  train.log
        best.safetensors  last.safetensors  last_state.pt

The runs folder carries the app's marker (photos/walk.py), so a runs folder inside a dataset is never
taken for a class. A stage holds its run folder's lock while it trains; a folder nobody holds that has
no model yet (a run killed before its first epoch) is removed when the next run starts.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from flowerstudio.core.foundation.atomic import make_unique_dir, remove_stale_temp_files
from flowerstudio.core.foundation.config import ConfigError, TrainConfig
from flowerstudio.core.foundation.filelock import HeldLock, try_lock
from flowerstudio.core.photos.walk import mark_app_folder
from flowerstudio.core.runs.history import read_history

BEST = "best.safetensors"
LAST = "last.safetensors"
LAST_STATE = "last_state.pt"
CONFIG = "config.json"
LOG = "train.log"
LOCK = ".run.lock"
# What a run folder holds before its first epoch ends: a folder with nothing else is an unfinished start.
_STARTING = {CONFIG, "split.json", LOG, LOCK}


def default_runs_dir() -> Path:
    """The per-user folder for runs (platformdirs), e.g. ~/.local/share/FlowerStudio/runs."""
    from platformdirs import user_data_dir

    return Path(user_data_dir("FlowerStudio", appauthor=False)) / "runs"


def new_run_dir(root: str | Path, backbone: str) -> Path:
    """A new, empty run folder; two runs started in the same second get different ones. Unfinished
    starts that nobody holds any more are cleared first."""
    root = Path(root)
    remove_unfinished_runs(root)
    folder = make_unique_dir(root, f"{time.strftime('%Y%m%d-%H%M%S')}-{backbone}")
    mark_app_folder(root, "runs")
    return folder


def _only_a_start(run: Path) -> bool:
    try:
        return {p.name for p in run.iterdir()} <= _STARTING
    except OSError:
        return False


def hold(run_dir: str | Path) -> Optional[HeldLock]:
    """Take a run folder's lock for as long as a stage trains in it (None: another process has it)."""
    return try_lock(Path(run_dir) / LOCK)


def remove_unfinished_runs(root: Path) -> list[Path]:
    """Delete run folders that hold nothing but a start (config, split, log) and no running stage:
    left by a run killed or failed before its first epoch. Also clears temporary files of killed writes."""
    removed = []
    try:
        folders = [p for p in root.iterdir() if p.is_dir() and (p / CONFIG).is_file()]
    except OSError:
        return removed
    for run in folders:
        remove_stale_temp_files(run)
        if not _only_a_start(run):
            continue
        lock = hold(run)
        if lock is None:
            continue  # a stage is starting in it right now
        try:
            names = {p.name for p in run.iterdir()}
            if names <= _STARTING:  # still, now that it is ours
                for name in names:
                    (run / name).unlink(missing_ok=True)
                run.rmdir()
                removed.append(run)
        except OSError:
            pass
        finally:
            lock.release()
    return removed


def best_model_path(run_dir: str | Path) -> Path:
    return Path(run_dir) / BEST


def latest_run(runs_dir: str | Path | None = None) -> Optional[Path]:
    """The most recently written run folder that holds a best model, if any."""
    root = Path(runs_dir) if runs_dir else default_runs_dir()
    if not root.is_dir():
        return None
    runs = [p for p in root.iterdir() if (p / BEST).is_file()]
    return max(runs, key=lambda p: (p / BEST).stat().st_mtime, default=None)


def resolve_model_path(spec: str | Path, runs_dir: str | Path | None = None) -> Path:
    """A model file from: a .safetensors path, a run folder, or 'best'/'last' of the latest run."""
    if str(spec) in ("best", "last"):
        run = latest_run(runs_dir)
        if run is None:
            raise FileNotFoundError(f"no finished run in {runs_dir or default_runs_dir()}")
        return run / (BEST if str(spec) == "best" else LAST)
    path = Path(spec)
    if path.is_dir():
        path = path / BEST
    if not path.is_file():
        raise FileNotFoundError(f"model file not found: {path}")
    return path


@dataclass
class RunSummary:
    """What a run folder holds, read without torch. A missing or damaged file gives None, [] or ""
    (a run may be half-written, or still being written)."""

    run_dir: Path
    config: Optional[TrainConfig]
    history: list[EpochMetrics]
    best_path: Optional[Path]
    log_text: str


def read_run(run_dir: str | Path) -> RunSummary:
    """The config, history, best model path and log of a run folder; never raises for a damaged run."""
    run_dir = Path(run_dir)
    try:
        config: Optional[TrainConfig] = TrainConfig.load(run_dir / "config.json")
    except ConfigError:
        config = None
    try:
        history = read_history(run_dir)
    except (OSError, ValueError, TypeError):  # unreadable, not JSON, or rows that are no epochs
        history = []
    try:
        log_text = (run_dir / "train.log").read_text(encoding="utf-8", errors="replace")
    except OSError:
        log_text = ""
    best = best_model_path(run_dir)
    return RunSummary(run_dir, config, history, best if best.is_file() else None, log_text)


def previous_run(runs_dir: str | Path | None, data_dir: str) -> Optional[Path]:
    """The latest run folder with a best model that was trained on ``data_dir``, if any."""
    root = Path(runs_dir) if runs_dir else default_runs_dir()
    if not root.is_dir():
        return None
    want = _same_path_key(data_dir)
    finished = [p for p in root.iterdir() if (p / BEST).is_file()]
    for run in sorted(finished, key=lambda p: (p / BEST).stat().st_mtime, reverse=True):
        try:
            trained_on = TrainConfig.load(run / "config.json").data_dir
        except ConfigError:
            continue
        if _same_path_key(trained_on) == want:
            return run
    return None


def _same_path_key(path: str) -> str:
    return os.path.normcase(os.path.abspath(path))
