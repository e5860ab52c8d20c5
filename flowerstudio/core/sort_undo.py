"""Taking a sort back: the log of what a sort wrote, and an undo that removes only that.

The log is written (atomically) before the GUI offers undo, so "Undo last sort" works after a
restart too. Undo never deletes anything it did not write: a copy is removed only while it is
still the same size as when it was made, a moved photo goes back only where nothing is in its way.
"""
from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

from flowerstudio.core.atomic import atomic_write_bytes, rename_no_replace
from flowerstudio.core.fsnames import display_path, json_bytes
from flowerstudio.core.sorting import SortSummary


@dataclass
class UndoSummary:
    undone: int = 0
    kept: list[tuple[str, str]] = field(default_factory=list)  # (file, why it was left alone)

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
    """Remove the copies (or move the photos back) that the logged sort made; then its empty folders."""
    log = json.loads(Path(log_path).read_text(encoding="utf-8"))  # escapes bring odd names back exactly
    result = UndoSummary()
    for original, new in log["placed"]:
        if not os.path.exists(new):
            result.kept.append((new, "no longer there"))
        elif os.stat(new).st_size != log["sizes"].get(new):
            result.kept.append((new, "changed since the sort"))
        elif log["moved"]:
            try:
                rename_no_replace(new, original)
                result.undone += 1
            except OSError as exc:
                result.kept.append((new, f"cannot go back to {display_path(original)}: {exc.strerror or exc}"))
        else:
            os.remove(new)
            result.undone += 1
    for folder in reversed(log["made_folders"]):
        try:
            os.rmdir(folder)  # only when empty: a file the user added since stays, and so does its folder
        except OSError:
            pass
    return result
