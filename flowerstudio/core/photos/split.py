"""The split: which photos train and which validate. Decided once, when a run is made, and saved with it.

A folder with ``train/`` and ``valid/`` is split by its folders; a folder of class folders gets a seeded
draw per class. Either way the run saves the result (``split.json``) and from then on it is the run's
truth: every photo it lists keeps its side; a photo added since goes to training (in a ``valid/``
folder it is left out, so the run's validation photos stay what they were); a listed photo that is
gone is reported. Evaluation, the doctor, the GUI's counts and a retrain all read the split this way.
"""
from __future__ import annotations

import os
import random
from dataclasses import dataclass, field

from flowerstudio.core.foundation.vocab import Layout, Part
from flowerstudio.core.photos.names import DatasetError, few, read_json

SPLIT_FILE = "split.json"
ADDED_TO_VAL = "added to the validation folder after the run was made: not used by this run"


def rel_path(path: str, root: str) -> str:
    """How a split file names a photo: relative to the dataset folder, '/' separators."""
    return os.path.relpath(path, root).replace(os.sep, "/")


def draw_split(per_class: dict[str, list[str]], val_fraction: float, seed: int
               ) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """(train, val) per class: a seeded shuffle of each class, ``val_fraction`` of it (at least one
    photo, never all) for validation."""
    train, val = {}, {}
    for cls, files in per_class.items():
        files = list(files)  # already in natural order
        random.Random(f"{seed}:{cls}").shuffle(files)
        n = len(files)
        k = 0 if n < 2 else min(n - 1, max(1, round(n * val_fraction)))
        val[cls], train[cls] = files[:k], files[k:]
    return train, val


@dataclass(frozen=True)
class SavedSplit:
    """A run's split as saved in its split.json (photos as relative paths)."""

    path: str
    layout: Layout
    val_fraction: float
    seed: int
    train: frozenset[str]
    val: frozenset[str]

    @classmethod
    def load(cls, path: str | os.PathLike) -> "SavedSplit":
        """Read a split file; DatasetError naming it when it is missing or damaged."""
        path = os.fspath(path)
        data = read_json(path, "Split file")
        lists_ok = isinstance(data, dict) and all(isinstance(data.get(k), list) for k in ("train", "val"))
        if not (lists_ok and all(isinstance(p, str) for p in data["train"] + data["val"])):
            raise DatasetError(f"Split file {path} must be a JSON object with 'train' and 'val' lists of photos; "
                               "it is damaged. Restore it from a backup, or train a new run.")
        try:
            layout = Layout(data.get("layout", Layout.FLAT))
            fraction, seed = float(data.get("val_fraction", 0.2)), int(data.get("seed", 42))
        except (TypeError, ValueError) as exc:
            raise DatasetError(f"Split file {path} is damaged ({exc}). Restore it, or train a new run.") from exc
        return cls(path, layout, fraction, seed, frozenset(data["train"]), frozenset(data["val"]))


@dataclass
class AppliedSplit:
    """A saved split applied to the photos found today."""

    train: dict[str, list[str]]
    val: dict[str, list[str]]
    added: list[str] = field(default_factory=list)  # not in the saved split: now training photos
    left_out: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)
    gone: list[str] = field(default_factory=list)  # listed, no longer there (relative paths)


def apply_saved(saved: SavedSplit, files: dict[Part, dict[str, list[str]]], root: str) -> AppliedSplit:
    """Give every photo found (``files``: the folder each was found in -> class -> paths) its side."""
    side = dict.fromkeys(saved.train, Part.TRAIN) | dict.fromkeys(saved.val, Part.VAL)
    out = AppliedSplit({}, {})
    present = set()
    for found_in in (Part.TRAIN, Part.VAL):
        for cls, paths in files.get(found_in, {}).items():
            for path in paths:
                rel = rel_path(path, root)
                present.add(rel)
                listed = side.get(rel)
                if listed is None and found_in == Part.VAL:
                    out.left_out.append((path, ADDED_TO_VAL))
                    continue
                if listed is None:
                    out.added.append(path)
                target = out.val if listed == Part.VAL else out.train
                target.setdefault(cls, []).append(path)
    out.gone = sorted(p for p in side if p not in present)
    return out


def notes(applied: AppliedSplit, saved: SavedSplit) -> list[str]:
    """What applying a saved split changed, as lines for the scan's summary."""
    lines = [f"Split: the run's own ({saved.path}); validation photos stay validation photos"]
    if applied.added:
        lines.append(f"{len(applied.added)} photos added since the run was made are training photos")
    if applied.left_out:
        lines.append(f"{len(applied.left_out)} photos added to the validation folder since the run are not used")
    if applied.gone:
        lines.append(f"{len(applied.gone)} photos of the run's split are gone (deleted, moved or unreadable): "
                     f"{few(applied.gone, 3)}")
    return lines
