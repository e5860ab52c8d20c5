"""A run's history: one row per epoch (losses, accuracies, learning rate, time, stage), as JSON and CSV."""
from __future__ import annotations

import json
from dataclasses import asdict, fields
from pathlib import Path

from flowerstudio.core.foundation.atomic import atomic_write_bytes
from flowerstudio.core.foundation.csvfile import write_csv_file
from flowerstudio.core.foundation.errors import UserError
from flowerstudio.core.foundation.events import EpochMetrics

HISTORY = "history.json"


class RunError(UserError, ValueError):
    """A run folder's file is missing or damaged; the message names it and says what to do."""


def write_history(run_dir: Path, history: list[EpochMetrics]) -> None:
    rows = [asdict(m) for m in history]
    atomic_write_bytes(run_dir / HISTORY, json.dumps(rows, indent=1).encode())
    header = [f.name for f in fields(EpochMetrics)]
    write_csv_file(run_dir / "history.csv", header, ([row[k] for k in header] for row in rows))


def read_history(run_dir: str | Path) -> list[EpochMetrics]:
    """The epochs of a run ([] when it has none yet); RunError naming the file when it is damaged."""
    path = Path(run_dir) / HISTORY
    if not path.is_file():
        return []
    try:
        rows = json.loads(path.read_text(encoding="utf-8"))
        return [EpochMetrics(**row) for row in rows]
    except (OSError, ValueError, TypeError) as exc:
        raise RunError(f"The run's history {path} is damaged ({type(exc).__name__}: {exc}). "
                       "Delete it to start the history afresh, or train a new run.") from exc
