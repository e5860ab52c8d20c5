"""Run folders: where a training run keeps its config, split, history and model files.

    <runs>/<YYYYmmdd-HHMMSS>-<backbone>/
        config.json  split.json  history.csv  history.json  train.log
        best.safetensors  last.safetensors  last_state.pt
"""
from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Optional

from flowerstudio.core.atomic import atomic_write_bytes, make_unique_dir
from flowerstudio.core.config import ConfigError, TrainConfig
from flowerstudio.core.csvfile import write_csv_file
from flowerstudio.core.events import EpochMetrics

BEST = "best.safetensors"
LAST = "last.safetensors"
LAST_STATE = "last_state.pt"


def default_runs_dir() -> Path:
    """The per-user folder for runs (platformdirs), e.g. ~/.local/share/FlowerStudio/runs."""
    from platformdirs import user_data_dir

    return Path(user_data_dir("FlowerStudio", appauthor=False)) / "runs"


def new_run_dir(root: str | Path, backbone: str) -> Path:
    """A new, empty run folder; two runs started in the same second get different ones."""
    return make_unique_dir(root, f"{time.strftime('%Y%m%d-%H%M%S')}-{backbone}")


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


def write_history(run_dir: Path, history: list[EpochMetrics]) -> None:
    rows = [asdict(m) for m in history]
    atomic_write_bytes(run_dir / "history.json", json.dumps(rows, indent=1).encode())
    header = [f.name for f in fields(EpochMetrics)]
    write_csv_file(run_dir / "history.csv", header, ([row[k] for k in header] for row in rows))


def read_history(run_dir: str | Path) -> list[EpochMetrics]:
    path = Path(run_dir) / "history.json"
    if not path.is_file():
        return []
    return [EpochMetrics(**row) for row in json.loads(path.read_text())]


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
