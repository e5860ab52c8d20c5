"""Taking a sort back: the log of what a sort (or an "add reviewed photos") wrote, and an undo that
removes only that.

The log is written (atomically, in the user's data folder, never in the sorted folder) as soon as the
sort ends, so undo works after a restart too, from the GUI or ``flowerstudio undo-sort``. Undo never
deletes anything it did not write: a copy is removed only while it is still the same size as when it
was made, a moved photo goes back only where nothing is in its way. An undone log is marked so, and
is not offered again.
"""
from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Optional

from flowerstudio.core.foundation.atomic import atomic_write_bytes, rename_no_replace
from flowerstudio.core.foundation.errors import UserError
from flowerstudio.core.foundation.fsnames import display_path, json_bytes
from flowerstudio.core.photos.sorting import SortSummary

SORT, ADD = "sort", "add"  # the two kinds of log: a sort into folders, reviewed photos added to a dataset
UNDONE = ".undone"


def logs_dir() -> Path:
    """Where sort logs are kept: the user's data folder (the sorted folder stays as the user made it)."""
    env = os.environ.get("FLOWERSTUDIO_SORT_LOGS")
    if env:
        return Path(env)
    from platformdirs import user_data_dir

    return Path(user_data_dir("FlowerStudio", appauthor=False)) / "sort-logs"


def new_log_path(kind: str) -> Path:
    """A fresh log file name for a sort of ``kind`` (SORT or ADD)."""
    import time

    stamp = time.strftime("%Y%m%d-%H%M%S")
    n = 1
    while True:
        path = logs_dir() / f"{kind}-{stamp}{'' if n == 1 else f'-{n}'}.json"
        if not path.exists():
            return path
        n += 1


def latest_log(kind: str) -> Optional[Path]:
    """The newest log of ``kind`` that was not undone yet, if any: what "Undo" takes back."""
    try:
        logs = [p for p in logs_dir().glob(f"{kind}-*.json") if not p.name.endswith(UNDONE + ".json")]
    except OSError:
        return None
    return max(logs, key=lambda p: p.name, default=None)


@dataclass
class UndoSummary:
    undone: int = 0
    kept: list[tuple[str, str]] = field(default_factory=list)  # (file, why it was left alone)
    taken_back: list[str] = field(default_factory=list)  # the originals whose copies (or moves) were undone

    def summary(self) -> str:
        lines = [f"Took back {self.undone} photos."]
        lines += [f"  left {display_path(p)}: {why}" for p, why in self.kept[:10]]
        if len(self.kept) > 10:
            lines.append(f"  ... and {len(self.kept) - 10} more left alone")
        return "\n".join(lines)


def write_log(summary: SortSummary, path: str | os.PathLike) -> Path:
    """Save what ``summary``'s sort wrote, with each new file's size (so undo knows it is unchanged)."""
    sizes = {}
    for _, new in summary.placed:
        try:
            sizes[new] = os.stat(new).st_size
        except OSError:
            pass
    atomic_write_bytes(path, json_bytes({**asdict(summary), "sizes": sizes}, indent=1))
    return Path(path)


def undo_sort(log_path: str | os.PathLike) -> UndoSummary:
    """Remove the copies (or move the photos back) that the logged sort made; then its empty folders.
    The log is then marked undone (renamed), so it is not offered again."""
    path = Path(log_path)
    try:
        log = json.loads(path.read_text(encoding="utf-8"))  # escapes bring odd names back exactly
        placed, moved, sizes, made = log["placed"], log["moved"], log["sizes"], log["made_folders"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise UserError(f"The sort log {display_path(path)} cannot be read ({exc}): nothing was undone.") from exc
    result = UndoSummary()
    for original, new in placed:
        why = _undo_one(original, new, moved, sizes.get(new))
        if why:
            result.kept.append((new, why))
        else:
            result.undone += 1
            result.taken_back.append(original)
    if log.get("marker"):
        try:
            os.unlink(log["marker"])
        except OSError:
            pass
    for folder in reversed(made):
        try:
            os.rmdir(folder)  # only when empty: a file the user added since stays, and so does its folder
        except OSError:
            pass
    try:
        os.replace(path, path.with_name(path.stem + UNDONE + ".json"))
    except OSError:
        pass  # a read-only log folder: the files are back all the same
    return result


def _undo_one(original: str, new: str, moved: bool, size: Optional[int]) -> str:
    """Take back one placed file; "" when done, else why it was left alone."""
    try:
        if not os.path.exists(new):
            return "no longer there"
        if os.stat(new).st_size != size:
            return "changed since the sort"
        if moved:
            rename_no_replace(new, original)
        else:
            os.remove(new)
    except OSError as exc:
        where = f"cannot go back to {display_path(original)}" if moved else "cannot be removed"
        return f"{where}: {exc.strerror or exc}"
    return ""


def sort_and_log(predictions, dest: str | os.PathLike, min_confidence: float = 0.6, move: bool = False,
                 names=None, reviewed: Optional[dict[str, str]] = None) -> tuple[SortSummary, Optional[Path]]:
    """sort_into, then its log (for undo, from the GUI or ``flowerstudio undo-sort``); the log's path, or
    None when nothing was placed. A log that cannot be written is said, not fatal: the photos are sorted."""
    from flowerstudio.core.photos.sorting import sort_into

    summary = sort_into(predictions, dest, min_confidence, move, names, reviewed)
    return summary, _log_quietly(summary, SORT)


def _log_quietly(summary: SortSummary, kind: str) -> Optional[Path]:
    if not summary.placed:
        return None
    path = new_log_path(kind)
    try:
        return write_log(summary, path)
    except OSError as exc:
        summary.errors.append((str(path), f"the undo log could not be written ({exc}): this cannot be undone"))
        return None
