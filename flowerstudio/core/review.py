"""Reviewed labels of new photos: kept as the user goes, exported, and added to the training folders.

The store is an append-only JSON-lines file: each decision is one line, flushed and fsynced, so a
crash loses at most the line being written, and a restart finds every earlier decision. A damaged
line is reported and skipped; the file itself is never rewritten or shortened.
"""
from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from flowerstudio.core.csvfile import write_csv_file
from flowerstudio.core.fsnames import display_path, json_text
from flowerstudio.core.sorting import SortSummary, place_photo


@dataclass
class ReviewStore:
    """``labels``: photo path -> class folder name the user confirmed or chose (None: review undone)."""

    path: Path
    labels: dict[str, str] = field(default_factory=dict)
    damaged: list[int] = field(default_factory=list)  # line numbers that could not be read

    @classmethod
    def open(cls, path: str | os.PathLike) -> "ReviewStore":
        store = cls(Path(path))
        try:
            lines = store.path.read_text(encoding="utf-8", errors="replace").splitlines()
        except FileNotFoundError:
            return store
        for number, line in enumerate(lines, 1):
            try:
                entry = json.loads(line)
                photo, label = entry["path"], entry["label"]
                if not isinstance(photo, str) or not (label is None or isinstance(label, str)):
                    raise TypeError
            except (ValueError, KeyError, TypeError):
                store.damaged.append(number)
                continue
            if label is None:
                store.labels.pop(photo, None)
            else:
                store.labels[photo] = label
        return store

    def set(self, photo: str, label: Optional[str]) -> None:
        """Record a decision (None takes it back), durable before this returns."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        line = json_text({"path": photo, "label": label, "time": time.strftime("%Y-%m-%dT%H:%M:%S")})
        with open(self.path, "a", encoding="utf-8") as fh:
            fh.write(line + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        if label is None:
            self.labels.pop(photo, None)
        else:
            self.labels[photo] = label

    def problem(self) -> str:
        """A sentence about damaged lines, or ""."""
        if not self.damaged:
            return ""
        return (f"{len(self.damaged)} line(s) of {display_path(self.path)} could not be read and were skipped "
                f"(the file is kept as it is): line {', '.join(map(str, self.damaged[:5]))}")

    def export_csv(self, path: str | os.PathLike, names: dict[str, str]) -> None:
        """``path, label, name`` per reviewed photo; ``names`` maps class folder -> display name."""
        rows = [(p, label, names.get(label, label)) for p, label in sorted(self.labels.items())]
        write_csv_file(path, ["path", "label", "name"], rows)


def add_to_dataset(labels: dict[str, str], class_folders: dict[str, str], move: bool = False) -> SortSummary:
    """Copy (or move) each reviewed photo into its class's training folder, never overwriting.

    ``class_folders`` maps class folder name -> the folder its training photos live in. The summary
    has what sort_undo needs to take it back.
    """
    summary = SortSummary(", ".join(sorted(set(class_folders.values()))), move)
    for photo, label in labels.items():
        folder = class_folders.get(label)
        if folder is None:
            summary.errors.append((photo, f"'{label}' is not a class of this dataset"))
            continue
        try:
            new, renamed = place_photo(photo, Path(folder), move)
        except OSError as exc:
            summary.errors.append((photo, exc.strerror or str(exc)))
            continue
        summary.counts[label] = summary.counts.get(label, 0) + 1
        summary.renamed += renamed
        summary.placed.append((photo, str(new)))
    return summary


def training_folders(scan) -> dict[str, str]:
    """Where each class's training photos go in a scanned dataset (train/<class> or <class>)."""
    root = Path(scan.root)
    base = root / scan.split_dirs["train"] if getattr(scan, "split_dirs", None) else root
    return {c: str(base / c) for c in scan.classes}
