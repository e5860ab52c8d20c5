"""Reviewed labels of new photos: kept as the user goes, exported, and added to the training folders.

The store is an append-only JSON-lines file: each decision is one line, flushed and fsynced, so a
crash loses at most the line being written, and a restart finds every earlier decision. Adding reviewed
photos to the dataset is recorded there too: a photo is added once, however often the button is
pressed; the addition has its own undo log (sort_log.py), which works after a restart. A damaged line
is reported and skipped; the file itself is never rewritten or shortened.
"""
from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from flowerstudio.core.foundation.csvfile import write_csv_file
from flowerstudio.core.foundation.errors import disk_errors
from flowerstudio.core.foundation.fsnames import display_path, json_text
from flowerstudio.core.photos.sorting import SortSummary, place_photo


@dataclass
class ReviewStore:
    """``labels``: photo path -> class folder name the user confirmed or chose (None: review undone)."""

    path: Path
    labels: dict[str, str] = field(default_factory=dict)
    added: dict[str, str] = field(default_factory=dict)  # photo -> its copy in the dataset
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
                store._apply(json.loads(line))
            except (ValueError, KeyError, TypeError):
                store.damaged.append(number)
        return store

    def _apply(self, entry: dict) -> None:
        photo = entry["path"]
        if not isinstance(photo, str):
            raise TypeError
        if "added" in entry:  # the photo's copy in the dataset, or None once that was undone
            copy = entry["added"]
            if not (copy is None or isinstance(copy, str)):
                raise TypeError
            _put(self.added, photo, copy)
            return
        label = entry["label"]
        if not (label is None or isinstance(label, str)):
            raise TypeError
        _put(self.labels, photo, label)

    def set(self, photo: str, label: Optional[str]) -> None:
        """Record a decision (None takes it back), durable before this returns."""
        self._append([{"path": photo, "label": label}])

    def _append(self, entries: list[dict]) -> None:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S")
        with disk_errors(self.path):
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with open(self.path, "a", encoding="utf-8") as fh:
                fh.write("".join(json_text({**e, "time": stamp}) + "\n" for e in entries))
                fh.flush()
                os.fsync(fh.fileno())
        for entry in entries:
            self._apply(entry)

    def to_add(self, class_folders: Optional[dict[str, str]] = None,
               only: Optional[set[str]] = None) -> dict[str, str]:
        """The reviewed photos not in the dataset yet (and still on disk): photo -> class folder name.

        A photo is in when its copy still is: a copy the user deleted, or one made into another dataset's
        folders (``class_folders``: this dataset's, as add_to_dataset takes them), lets it be added again.
        ``only``: the photos to look at (those on screen); the others' files are not even looked for."""
        here = {os.path.normpath(f) for f in class_folders.values()} if class_folders is not None else None

        def added(photo: str) -> bool:
            copy = self.added.get(photo)
            return copy is not None and os.path.exists(copy) and (
                here is None or os.path.normpath(os.path.dirname(copy)) in here)

        return {p: label for p, label in self.labels.items()
                if (only is None or p in only) and not added(p) and os.path.exists(p)}

    def display_labels(self, classes: list[str], names: list[str]) -> dict[str, str]:
        """photo -> the display name of the class it was given (what sorting names its folders by)."""
        shown = dict(zip(classes, names))
        return {p: shown[label] for p, label in self.labels.items() if label in shown}

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


def _put(table: dict, key: str, value: Optional[str]) -> None:
    """Set ``table[key]``; None removes it (a line that takes an earlier one back)."""
    if value is None:
        table.pop(key, None)
    else:
        table[key] = value


def add_to_dataset(store: ReviewStore, class_folders: dict[str, str],
                   only: Optional[set[str]] = None) -> tuple[SortSummary, Optional[Path]]:
    """Copy each reviewed photo not added yet into its class's training folder, never overwriting; record
    the copies in the store and in an undo log (its path returned; None when nothing was copied).

    ``class_folders`` maps class folder name -> the folder its training photos live in; ``only``: the
    photos to consider (e.g. those on screen), else every reviewed photo.
    """
    from flowerstudio.core.photos.sort_log import ADD, _log_quietly

    summary = _copy_reviewed(store.to_add(class_folders, only), class_folders)
    log = _log_quietly(summary, ADD)
    store._append([{"path": photo, "added": copy} for photo, copy in summary.placed])
    return summary, log


def undo_add(store: ReviewStore, log: str | os.PathLike):
    """Take back an addition (sort_log.undo_sort) and mark its photos as not added, so they can be again."""
    from flowerstudio.core.photos.sort_log import undo_sort

    result = undo_sort(log)
    store._append([{"path": photo, "added": None} for photo in result.taken_back])
    return result


def _copy_reviewed(labels: dict[str, str], class_folders: dict[str, str]) -> SortSummary:
    folders = sorted(set(class_folders.values()))
    # "into 5 folders in DATA/train" (the class folders' parent), not a list of every folder
    base = os.path.commonpath(folders) if folders else ""
    summary = SortSummary(os.path.dirname(base) if len(folders) == 1 else base, False)
    for photo, label in labels.items():
        folder = class_folders.get(label)
        if folder is None:
            summary.errors.append((photo, f"'{label}' is not a class of this dataset"))
            continue
        try:
            new, renamed = place_photo(photo, Path(folder), False)
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


def default_store_path() -> Path:
    """The review store of this computer's user (their data folder)."""
    from platformdirs import user_data_dir

    return Path(user_data_dir("FlowerStudio", appauthor=False)) / "reviews" / "labels.jsonl"
