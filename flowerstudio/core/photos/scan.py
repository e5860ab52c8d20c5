"""Scan a folder of photos into classes and a train/validation(/test) split.

Layouts (vocab.Layout): ``split`` = root/train|valid|test/<class>/...; ``flat`` = root/<class>/...,
where validation is drawn per class (split.py). Given a run's ``split.json`` the scan applies that
split instead: the run's truth (split.py says how). Plain Python (no torch): the GUI shows the report
before the engine loads.
"""
from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field
from typing import Optional

from flowerstudio.core.foundation.atomic import atomic_write_bytes
from flowerstudio.core.foundation.events import Callback, CancelToken, PhaseStarted, Progress, ignore
from flowerstudio.core.foundation.fsnames import json_bytes
from flowerstudio.core.foundation.vocab import Layout, Part, Phase
from flowerstudio.core.photos.imageio import probe_image, reasons_by_count
from flowerstudio.core.photos.lists import read_exclusions
from flowerstudio.core.photos.names import NAMES_FILE_DEFAULT, DatasetError, few, load_names, natural_key
from flowerstudio.core.photos.split import SavedSplit, apply_saved, draw_split, notes, rel_path
from flowerstudio.core.photos.walk import (
    EXCLUDED, Walker, archives_note, detect_split_dirs, wrapped_dataset,
)

_PROGRESS_EVERY = 50
LAYOUT_HELP = ("Expected either one folder per class (a folder for each kind, holding its photos) or "
               "a train folder and a valid folder, each with one folder per class.")


@dataclass(frozen=True)
class Sample:
    """One photo and the index of its class in ``DatasetScan.classes``."""

    path: str
    label: int


class UnlabelledFolderError(DatasetError):
    """Photos with no class folders: nothing to train on, but photos a model could label."""


class WrappedDatasetError(DatasetError):
    """The chosen folder only wraps the dataset (a zip unpacked into a folder of its own name):
    ``inner`` is the folder the class folders are in."""

    def __init__(self, message: str, inner: str) -> None:
        super().__init__(message)
        self.inner = inner


@dataclass
class DatasetScan:
    """What a scan found: classes, the split, and everything left out (with reasons)."""

    root: str
    layout: Layout
    split_dirs: dict[str, str]
    classes: list[str]
    display_names: list[str]
    train: list[Sample] = field(default_factory=list)
    val: list[Sample] = field(default_factory=list)
    test: list[Sample] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    unreadable: list[tuple[str, str]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    names_file: Optional[str] = None
    val_fraction: float = 0.2
    seed: int = 42
    split_file: Optional[str] = None  # the run's split.json this scan applied, if any
    split_notes: list[str] = field(default_factory=list)  # what applying it changed
    added: list[str] = field(default_factory=list)  # photos not in that split: training photos now

    def samples(self, part: Part | str) -> list[Sample]:
        return {Part.TRAIN: self.train, Part.VAL: self.val, Part.TEST: self.test}[Part(part)]

    def counts(self, part: Part | str) -> list[int]:
        """Number of images per class in ``part`` (train, val or test)."""
        n = Counter(s.label for s in self.samples(part))
        return [n[i] for i in range(len(self.classes))]

    def photos_per_class(self) -> float:
        """Training photos per class, on average (what the advice and the GUI's hints go by)."""
        return len(self.train) / len(self.classes) if self.classes else 0.0

    def summary(self) -> str:
        """A few human-readable lines describing the scan."""
        if self.layout == Layout.SPLIT:
            lines = ["Layout: ready-made split (" + ", ".join(f"{v}/" for v in self.split_dirs.values()) + ")"]
        else:
            lines = [f"Layout: one folder per class; {self.val_fraction:.0%} held out for validation"]
        tr = self.counts(Part.TRAIN)
        lines.append(f"{len(self.classes)} classes: {len(self.train)} training "
                     f"({min(tr, default=0)} to {max(tr, default=0)} per class), "
                     f"{len(self.val)} validation, {len(self.test)} test images")
        lines += self.split_notes
        excluded = sum(reason == EXCLUDED for _, reason in self.skipped)
        if excluded:
            lines.append(f"Excluded by you: {excluded} photos (.flowerstudio/exclude.txt)")
        if len(self.skipped) > excluded or self.unreadable:
            left = ((len(self.skipped) - excluded, "hidden, non-image or other entries"),
                    (len(self.unreadable), "unreadable images"))
            lines.append("Left out: " + ", ".join(f"{n} {what}" for n, what in left if n))
            lines.extend(f"  {n} unreadable: {why}" for why, n in reasons_by_count(self.unreadable)[:3] if n > 1)
        lines.extend(f"Warning: {w}" for w in self.warnings)
        return "\n".join(lines)

    def split_dict(self) -> dict:
        """JSON-able record of the split; paths relative to root with '/' separators."""
        return {"layout": self.layout, "val_fraction": self.val_fraction, "seed": self.seed,
                "train": [rel_path(s.path, self.root) for s in self.train],
                "val": [rel_path(s.path, self.root) for s in self.val]}

    def save_split(self, path: str | os.PathLike) -> None:
        """Write split_dict() as JSON, atomically."""
        # json_bytes: a file name that is not UTF-8 is saved so it loads back as the same path.
        atomic_write_bytes(path, json_bytes(self.split_dict(), indent=1))


def _sorted_paths(paths, root: str) -> list[str]:
    return sorted(paths, key=lambda p: natural_key(rel_path(p, root)))


def _collect_split(walker: Walker, root: str, split_dirs: dict, skip_files: set, warnings: list):
    """Classes and files per part for root/train|valid|test/<class>/..."""
    top, stray = walker.class_dirs(root, skip_files)
    walker.skipped.extend((p, "not inside a class folder") for p in stray)
    walker.skipped.extend((p, "not a train/valid/test folder") for n, p in top.items() if n not in split_dirs.values())
    role_dirs = {}
    for role, name in split_dirs.items():
        role_dirs[Part(role)], stray = walker.class_dirs(os.path.join(root, name), skip_files)
        walker.skipped.extend((p, "stray file outside class folders") for p in stray)
    classes = sorted(role_dirs[Part.TRAIN], key=natural_key)
    extra = sorted(set(role_dirs.get(Part.VAL, ())) - set(classes), key=natural_key)
    if extra:
        raise DatasetError(f"{os.path.join(root, split_dirs['val'])} has class folders that are "
                           f"not in {os.path.join(root, split_dirs['train'])}: {few(extra)}. "
                           "Every validation class needs a training folder of the same name.")
    extra = sorted(set(role_dirs.get(Part.TEST, ())) - set(classes), key=natural_key)
    if extra:
        walker.skipped.extend((role_dirs[Part.TEST][c], "test class not in training") for c in extra)
        warnings.append(f"Test classes not in training were ignored: {few(extra)}")
    files = {part: {c: list(walker.images(dirs[c])) for c in classes if c in dirs} for part, dirs in role_dirs.items()}
    return classes, files


def _probe_all(paths, check_images, callback, cancel) -> dict[str, str]:
    """path -> reason for every unreadable image, reporting progress as it goes."""
    total, bad = len(paths), {}
    callback(PhaseStarted(Phase.SCAN, total))
    if check_images:
        for i, p in enumerate(paths, 1):
            if (reason := probe_image(p)) is not None:
                bad[p] = reason
            if i % _PROGRESS_EVERY == 0:
                if cancel is not None:
                    cancel.raise_if_cancelled()
                callback(Progress(Phase.SCAN, i, total))
    callback(Progress(Phase.SCAN, total, total))
    return bad


def _find_classes(walker: Walker, root: str, skip_files: set, min_classes: int, warnings: list):
    """(layout, split_dirs, classes, files per part -> class -> paths); DatasetError when unusable."""
    try:
        split_dirs = detect_split_dirs(root)
    except OSError as exc:
        raise DatasetError(f"Cannot read dataset folder {root}: {exc.strerror or exc}") from exc
    if "train" in split_dirs:
        layout = Layout.SPLIT if "val" in split_dirs else Layout.FLAT
        if layout == Layout.FLAT:  # train/ (+ test/) without a validation folder: carve validation out of train
            warnings.append(f"No validation folder (valid/val/validation) beside "
                            f"{split_dirs['train']}/: part of each class is held out instead.")
        classes, files = _collect_split(walker, root, split_dirs, skip_files, warnings)
    else:
        layout, split_dirs = Layout.FLAT, {}
        dirs, stray = walker.class_dirs(root, skip_files)
        if stray and not dirs:
            raise UnlabelledFolderError(f"{root} holds {len(stray)} photos but no class folders. Put the "
                                        "photos of each kind in a folder of its own (one folder per class).")
        walker.skipped.extend((p, "stray file outside class folders") for p in stray)
        classes = sorted(dirs, key=natural_key)
        files = {Part.TRAIN: {c: list(walker.images(dirs[c])) for c in classes}}
    if len(classes) < min_classes:
        found = f" (found only {classes[0]!r})" if classes else ""
        need = "at least two class folders" if min_classes > 1 else "a class folder"
        if (inner := wrapped_dataset(root)) is not None:
            only = os.path.relpath(inner, root).split(os.sep)[0]
            raise WrappedDatasetError(f"{root} holds only the folder {only!r}; the class folders seem to be in "
                                      f"{inner}: choose that folder.", inner)
        empty = "" if classes or walker.skipped else " The folder is empty."
        raise DatasetError(f"{root} needs {need}{found}.{empty}{archives_note(root)} {LAYOUT_HELP}")
    return layout, split_dirs, classes, files


def _check_classes(files: dict, classes: list[str], bad: dict, root: str, split_dirs: dict) -> None:
    for cls in classes:
        if not any(files[part].get(cls) for part in files):
            where = os.path.join(root, split_dirs.get("train", ""), cls)
            first_bad = next((p for p in bad if p.startswith(where + os.sep)), None)
            why = f"only unreadable images (e.g. {first_bad}: {bad[first_bad]})" if first_bad else "no images"
            raise DatasetError(f"Class folder {where} has {why}. Add photos to it, or move it out of the dataset "
                               "folder.")


def scan_dataset(root: str | os.PathLike, names_file: str | os.PathLike | None = None, val_fraction: float = 0.2,
                 seed: int = 42, split_file: str | os.PathLike | None = None, check_images: bool = True,
                 callback: Callback = ignore, cancel: CancelToken | None = None, min_classes: int = 2) -> DatasetScan:
    """Scan ``root`` into a DatasetScan. Raises DatasetError when it cannot be used.

    ``split_file``: a run's split.json to apply (it must exist); else a flat folder's split is drawn
    with ``val_fraction`` and ``seed``. Photos listed in ``root/.flowerstudio/exclude.txt`` are skipped
    with the reason "excluded". ``min_classes``: training needs two; the doctor still finds duplicates in one.
    """
    root = os.path.abspath(os.fspath(root))
    if not os.path.isdir(root):
        what = "is not a folder" if os.path.exists(root) else "not found"
        raise DatasetError(f"Dataset folder {what}: {root}")
    if names_file is None and os.path.isfile(os.path.join(root, NAMES_FILE_DEFAULT)):
        names_file = os.path.join(root, NAMES_FILE_DEFAULT)
    names_path = os.path.abspath(names_file) if names_file is not None else None
    saved = SavedSplit.load(split_file) if split_file is not None else None
    names = load_names(names_path) if names_path else {}
    skip_files = {os.path.normcase(p) for p in (names_path, saved and os.path.abspath(saved.path)) if p}
    warnings: list[str] = []
    walker = Walker(cancel, root, read_exclusions(root))
    layout, split_dirs, classes, files = _find_classes(walker, root, skip_files, min_classes, warnings)
    if layout == Layout.FLAT and not 0.0 < float(val_fraction) < 1.0:
        raise DatasetError(f"Validation fraction must be between 0 and 1, not {val_fraction}.")
    bad = _probe_all([p for part in files.values() for lst in part.values() for p in lst], check_images,
                     callback, cancel)
    for part in files.values():
        for cls in part:
            part[cls] = _sorted_paths((p for p in part[cls] if p not in bad), root)
    _check_classes(files, classes, bad, root, split_dirs)
    scan = DatasetScan(root=root, layout=layout, split_dirs=dict(split_dirs), classes=classes,
                       display_names=[names.get(c, c) for c in classes], skipped=walker.skipped,
                       unreadable=[(p, bad[p]) for p in _sorted_paths(bad, root)], warnings=warnings,
                       names_file=names_path, val_fraction=float(val_fraction), seed=int(seed))
    _split(scan, files, saved)
    _add_warnings(scan, names)
    return scan


def _split(scan: DatasetScan, files: dict, saved: Optional[SavedSplit]) -> None:
    """Fill the scan's train/val/test samples: the saved split applied, else the folders or a fresh draw."""
    if saved is not None:
        applied = apply_saved(saved, files, scan.root)
        train, val = applied.train, applied.val
        scan.skipped.extend(applied.left_out)
        scan.split_file, scan.added, scan.split_notes = saved.path, applied.added, notes(applied, saved)
        scan.val_fraction, scan.seed = saved.val_fraction, saved.seed
    elif scan.layout == Layout.FLAT:
        train, val = draw_split(files[Part.TRAIN], scan.val_fraction, scan.seed)
    else:
        train, val = files[Part.TRAIN], files.get(Part.VAL, {})
    for part, by_class in ((Part.TRAIN, train), (Part.VAL, val), (Part.TEST, files.get(Part.TEST, {}))):
        scan.samples(part).extend(Sample(p, i) for i, c in enumerate(scan.classes)
                                  for p in _sorted_paths(by_class.get(c, ()), scan.root))


def _add_warnings(scan: DatasetScan, names: dict[str, str]) -> None:
    tr, va = scan.counts(Part.TRAIN), scan.counts(Part.VAL)
    cls = scan.classes
    small, big = min(tr), max(tr)
    if big >= 3 * max(small, 1) and big > small:
        lo, hi = cls[tr.index(small)], cls[tr.index(big)]
        scan.warnings.append(f"Classes are imbalanced: {hi!r} has {big} training images, "
                             f"{lo!r} only {small}.")
    lists = [
        ("Classes with fewer than 5 training images", [c for c, n in zip(cls, tr) if n < 5]),
        ("Classes with no validation images",
         [c for c, n in zip(cls, va) if n == 0] if scan.layout == Layout.SPLIT else []),
        ("Names file lists folders that do not exist",
         sorted(set(names) - set(cls), key=natural_key)),
        ("Folders without a name in the names file", [c for c in cls if names and c not in names]),
    ]
    scan.warnings.extend(f"{label}: {few(items)}" for label, items in lists if items)
