"""Scan a folder of photos into classes and a train/validation(/test) split.

Layouts: "split" = root/train|valid|test/<class>/...; "flat" = root/<class>/..., where
validation is carved out per class by a seeded shuffle that can be saved and reused.
Plain Python (no torch): the GUI shows the report before the engine loads.
"""
from __future__ import annotations

import json
import os
import random
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Iterator, Optional

from .atomic import atomic_write_bytes
from .dataset_lists import STATE_DIR, read_exclusions
from .fsnames import json_bytes
from .events import Callback, CancelToken, PhaseStarted, Progress, ignore
from .imageio import is_hidden_or_system, is_image_file, is_photo_file, probe_image, reasons_by_count

# Folder names per role, in order of preference when several exist.
_ROLE_NAMES = (("train", ("train",)), ("val", ("valid", "val", "validation")), ("test", ("test",)))
NAMES_FILE_DEFAULT = "cat_to_name.json"
_PROGRESS_EVERY = 50
_SPLITS = ("train", "val", "test")
EXCLUDED = "excluded"  # the reason a photo listed in .flowerstudio/exclude.txt is skipped

LAYOUT_HELP = ("Expected either one folder per class (root/<class>/photo.jpg) or "
               "root/train/<class>/... with root/valid/<class>/...")

@dataclass(frozen=True)
class Sample:
    """One photo and the index of its class in ``DatasetScan.classes``."""

    path: str
    label: int


class DatasetError(ValueError):
    """The folder cannot be used as a dataset; the message names it and says why."""


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
    layout: str
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

    def counts(self, split: str) -> list[int]:
        """Number of images per class in ``split`` ('train', 'val' or 'test')."""
        if split not in _SPLITS:
            raise ValueError(f"split must be one of {_SPLITS}, not {split!r}")
        n = Counter(s.label for s in getattr(self, split))
        return [n[i] for i in range(len(self.classes))]

    def summary(self) -> str:
        """A few human-readable lines describing the scan."""
        if self.layout == "split":
            dirs = ", ".join(f"{v}/" for v in self.split_dirs.values())
            lines = [f"Layout: ready-made split ({dirs})"]
        else:
            lines = [f"Layout: one folder per class; {self.val_fraction:.0%} held out "
                     f"for validation (seed {self.seed})"]
        tr = self.counts("train")
        lines.append(f"{len(self.classes)} classes: {len(self.train)} training "
                     f"({min(tr, default=0)} to {max(tr, default=0)} per class), "
                     f"{len(self.val)} validation, {len(self.test)} test images")
        excluded = sum(reason == EXCLUDED for _, reason in self.skipped)
        if excluded:
            lines.append(f"Excluded by you: {excluded} photos (.flowerstudio/exclude.txt)")
        if len(self.skipped) > excluded or self.unreadable:
            left = ((len(self.skipped) - excluded, "hidden or non-image entries"),
                    (len(self.unreadable), "unreadable images"))
            lines.append("Left out: " + ", ".join(f"{n} {what}" for n, what in left if n))
            lines.extend(f"  {n} unreadable: {why}" for why, n in reasons_by_count(self.unreadable)[:3] if n > 1)
        lines.extend(f"Warning: {w}" for w in self.warnings)
        return "\n".join(lines)

    def _rel(self, path: str) -> str:
        return os.path.relpath(path, self.root).replace(os.sep, "/")

    def split_dict(self) -> dict:
        """JSON-able record of the split; paths relative to root with '/' separators."""
        return {"layout": self.layout, "val_fraction": self.val_fraction, "seed": self.seed,
                "train": [self._rel(s.path) for s in self.train],
                "val": [self._rel(s.path) for s in self.val]}

    def save_split(self, path: str | os.PathLike) -> None:
        """Write split_dict() as JSON, atomically."""
        # json_bytes: a file name that is not UTF-8 is saved so it loads back as the same path.
        atomic_write_bytes(path, json_bytes(self.split_dict(), indent=1))


_CHUNK = re.compile(r"(\d+)")


def natural_key(name: str) -> tuple:
    """Sort key so '2' < '10' and 'a2' < 'a10'; case-insensitive, ties broken by the name."""
    parts = tuple(
        (0, int(c), c) if i % 2 else (1, c.casefold(), c)
        for i, c in enumerate(_CHUNK.split(name)) if c
    )
    return (parts, name)


def _read_json(path: str, what: str):
    try:
        with open(path, "rb") as fh:
            return json.loads(fh.read().decode("utf-8-sig"))
    except FileNotFoundError as exc:
        raise DatasetError(f"{what} not found: {path}") from exc
    except json.JSONDecodeError as exc:
        raise DatasetError(f"{what} {path} is not valid JSON (line {exc.lineno}, "
                           f"column {exc.colno}: {exc.msg}).") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise DatasetError(f"Cannot read {what.lower()} {path}: {exc}") from exc


def load_names(path: str | os.PathLike) -> dict[str, str]:
    """Read a JSON object mapping class folder name -> display name."""
    path = os.fspath(path)
    data = _read_json(path, "Names file")
    if not isinstance(data, dict):
        raise DatasetError(f"Names file {path} must hold a JSON object mapping folder name to "
                           f'display name, like {{"1": "pink primrose"}}, not a '
                           f"{type(data).__name__}.")
    bad = [k for k, v in data.items() if not isinstance(v, str)]
    if bad:
        raise DatasetError(f"Names file {path}: display names must be text; not for {_few(bad)}.")
    return dict(data)


def _few(items, n: int = 5) -> str:
    items = list(items)
    more = f" and {len(items) - n} more" if len(items) > n else ""
    return ", ".join(repr(x) for x in items[:n]) + more


class _Walker:
    """Collects image files below a folder, recording everything it leaves out."""

    def __init__(self, cancel: Optional[CancelToken], root: str, excluded: set[str]) -> None:
        self.skipped: list[tuple[str, str]] = []
        self.cancel, self._seen_dirs = cancel, set()
        self.root, self.excluded = root, excluded  # relative paths with '/' (dataset_lists.py)

    @staticmethod
    def _dir_id(path: str):
        # Windows may report st_ino 0; fall back to the resolved path.
        try:
            st = os.stat(path)
            return (st.st_dev, st.st_ino) if st.st_ino else os.path.realpath(path)
        except OSError:
            return os.path.realpath(path)

    def entries(self, folder: str) -> list[os.DirEntry]:
        """Non-hidden entries of one folder, hidden/system ones recorded as skipped."""
        try:
            with os.scandir(folder) as it:
                raw = list(it)
        except OSError as exc:
            self.skipped.append((folder, f"cannot read folder ({exc.strerror or exc})"))
            return []
        raw = [e for e in raw if e.name != STATE_DIR]  # the app's own lists, not the user's clutter
        hidden = [e for e in raw if is_hidden_or_system(e.name)]
        self.skipped.extend((e.path, "hidden or system entry") for e in hidden)
        return [e for e in raw if not is_hidden_or_system(e.name)]

    def images(self, folder: str) -> Iterator[str]:
        """All image files below ``folder`` (recursively, no symlink loops)."""
        key = self._dir_id(folder)
        if key in self._seen_dirs:
            self.skipped.append((folder, "folder already scanned (link loop)"))
            return
        self._seen_dirs.add(key)
        if self.cancel is not None:
            self.cancel.raise_if_cancelled()
        for e in self.entries(folder):
            try:
                if e.is_dir():
                    yield from self.images(e.path)
                elif not e.is_file():
                    self.skipped.append((e.path, "broken link or special file"))
                elif not is_photo_file(e.name):
                    self.skipped.append((e.path, "not an image file"))
                elif self.excluded and os.path.relpath(e.path, self.root).replace(os.sep, "/") in self.excluded:
                    self.skipped.append((e.path, EXCLUDED))
                else:
                    yield e.path
            except OSError as exc:
                self.skipped.append((e.path, f"cannot read ({exc.strerror or exc})"))


def _class_dirs(walker: _Walker, folder: str, skip_files: set) -> tuple[dict, list]:
    """Sub-folders of ``folder`` (class name -> path) and the image files lying beside them."""
    dirs: dict[str, str] = {}
    stray_images: list[str] = []  # the caller decides: an error or a skip
    for e in walker.entries(folder):
        if e.is_dir():
            dirs[e.name] = e.path
        elif os.path.normcase(os.path.abspath(e.path)) in skip_files:
            pass
        elif e.is_file() and is_image_file(e.name):
            stray_images.append(e.path)
        else:
            walker.skipped.append((e.path, "not inside a class folder"))
    return dirs, stray_images


def _sorted_paths(paths, root: str) -> list[str]:
    return sorted(paths, key=lambda p: natural_key(os.path.relpath(p, root).replace(os.sep, "/")))


def detect_split_dirs(root: str) -> dict[str, str]:
    """Role -> actual folder name for train/val/test folders directly in root (any case)."""
    with os.scandir(root) as it:
        by_lower = {e.name.lower(): e.name for e in it
                    if not is_hidden_or_system(e.name) and e.is_dir()}
    found = {role: next((by_lower[n] for n in names if n in by_lower), None)
             for role, names in _ROLE_NAMES}
    return {role: name for role, name in found.items() if name}


def _flat_split(per_class: dict[str, list[str]], val_fraction: float, seed: int):
    train, val = {}, {}
    for cls, files in per_class.items():
        files = list(files)  # already in natural order
        random.Random(f"{seed}:{cls}").shuffle(files)
        n = len(files)
        k = 0 if n < 2 else min(n - 1, max(1, round(n * val_fraction)))
        val[cls], train[cls] = files[:k], files[k:]
    return train, val


def _reuse_split(path: str, per_class, root, warnings):
    """Listed files keep their side; new files go to train; vanished ones are reported."""
    data = _read_json(path, "Split file")
    if not (isinstance(data, dict) and all(isinstance(data.get(k), list) for k in ("train", "val"))
            and all(isinstance(p, str) for p in data["train"] + data["val"])):
        raise DatasetError(f"Split file {path} must be a JSON object with 'train' and 'val' lists.")
    side = dict.fromkeys(data["train"], "train") | dict.fromkeys(data["val"], "val")
    train, val, present = {}, {}, set()
    for cls, files in per_class.items():
        train[cls], val[cls] = [], []
        for f in files:
            rel = os.path.relpath(f, root).replace(os.sep, "/")
            present.add(rel)
            (val if side.get(rel) == "val" else train)[cls].append(f)
    gone = [p for p in side if p not in present]
    if gone:
        warnings.append(f"{len(gone)} files listed in the saved split no longer exist (or are "
                        f"unreadable) and were dropped: {_few(gone, 3)}")
    return data, train, val


def _collect_split(walker, root, split_dirs, skip_files, warnings):
    """Classes and files per role for root/train|valid|test/<class>/..."""
    top, stray = _class_dirs(walker, root, skip_files)
    walker.skipped.extend((p, "not inside a class folder") for p in stray)
    walker.skipped.extend(
        (p, "not a train/valid/test folder") for n, p in top.items() if n not in split_dirs.values()
    )
    role_dirs = {}
    for role, name in split_dirs.items():
        role_dirs[role], stray = _class_dirs(walker, os.path.join(root, name), skip_files)
        walker.skipped.extend((p, "stray file outside class folders") for p in stray)
    classes = sorted(role_dirs["train"], key=natural_key)
    extra = sorted(set(role_dirs.get("val", ())) - set(classes), key=natural_key)
    if extra:
        raise DatasetError(f"{os.path.join(root, split_dirs['val'])} has class folders that are "
                           f"not in {os.path.join(root, split_dirs['train'])}: {_few(extra)}. "
                           "Every validation class needs a training folder of the same name.")
    extra = sorted(set(role_dirs.get("test", ())) - set(classes), key=natural_key)
    if extra:
        walker.skipped.extend((role_dirs["test"][c], "test class not in training") for c in extra)
        warnings.append(f"Test classes not in training were ignored: {_few(extra)}")
    files = {"train": {}, "val": {}, "test": {}}
    for role, dirs in role_dirs.items():
        files[role] = {c: list(walker.images(dirs[c])) for c in classes if c in dirs}
    return classes, files


def wrapped_dataset(root: str, depth: int = 3) -> Optional[str]:
    """The folder below ``root`` where a dataset starts when ``root`` only wraps it: a chain of single
    sub-folders with no photos beside them, down to one holding two or more folders or a train/
    folder. None when ``root`` is not such a wrapper (e.g. a single class folder of photos)."""
    path = root
    for _ in range(depth):
        try:
            with os.scandir(path) as it:
                entries = [e for e in it if not is_hidden_or_system(e.name) and e.name != STATE_DIR]
            dirs = [e.path for e in entries if e.is_dir()]
            if path != root and (len(dirs) >= 2 or "train" in detect_split_dirs(path)):
                return path
            if len(dirs) != 1 or any(e.is_file() and is_photo_file(e.name) for e in entries):
                return None
        except OSError:
            return None
        path = dirs[0]
    return None


_ARCHIVES = (".zip", ".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tar.xz", ".7z", ".rar")


def _archives_note(root: str) -> str:
    """' It holds N archives (a.zip, ...): unpack them first ...' when the classes are still zipped up."""
    try:
        with os.scandir(root) as it:
            archives = sorted(e.name for e in it if e.is_file() and e.name.lower().endswith(_ARCHIVES))
    except OSError:
        return ""
    if not archives:
        return ""
    them = "them" if len(archives) > 1 else "it"
    return (f" It holds {len(archives)} archive{'s' if len(archives) > 1 else ''} ({_few(archives, 3)}): unpack "
            f"{them} first, then choose the folder the photos unpack into.")


def _probe_all(paths, check_images, callback, cancel) -> dict[str, str]:
    """path -> reason for every unreadable image, reporting progress as it goes."""
    total, bad = len(paths), {}
    callback(PhaseStarted("scan", total))
    if check_images:
        for i, p in enumerate(paths, 1):
            if (reason := probe_image(p)) is not None:
                bad[p] = reason
            if i % _PROGRESS_EVERY == 0:
                if cancel is not None:
                    cancel.raise_if_cancelled()
                callback(Progress("scan", i, total))
    callback(Progress("scan", total, total))
    return bad


def scan_dataset(
    root: str | os.PathLike,
    names_file: str | os.PathLike | None = None,
    val_fraction: float = 0.2,
    seed: int = 42,
    split_file: str | os.PathLike | None = None,
    check_images: bool = True,
    callback: Callback = ignore,
    cancel: CancelToken | None = None,
    min_classes: int = 2,
) -> DatasetScan:
    """Scan ``root`` into a DatasetScan. Raises DatasetError when it cannot be used.

    Photos listed in ``root/.flowerstudio/exclude.txt`` are skipped with the reason "excluded".
    ``min_classes``: training needs two; the doctor still finds duplicates in one.
    """
    root = os.path.abspath(os.fspath(root))
    if not os.path.isdir(root):
        what = "is not a folder" if os.path.exists(root) else "not found"
        raise DatasetError(f"Dataset folder {what}: {root}")
    default_names = os.path.join(root, NAMES_FILE_DEFAULT)
    if names_file is None and os.path.isfile(default_names):
        names_file = default_names
    names_path, split_path = (os.path.abspath(f) if f is not None else None
                              for f in (names_file, split_file))
    names = load_names(names_path) if names_path else {}
    skip_files = {os.path.normcase(p) for p in (names_path, split_path) if p}
    warnings: list[str] = []
    walker = _Walker(cancel, root, read_exclusions(root))
    try:
        split_dirs = detect_split_dirs(root)
    except OSError as exc:
        raise DatasetError(f"Cannot read dataset folder {root}: {exc}") from exc
    if "train" in split_dirs:
        layout = "split" if "val" in split_dirs else "flat"
        if layout == "flat":
            # train/ (+ test/) without a validation folder: carve validation out of train.
            warnings.append(f"No validation folder (valid/val/validation) beside "
                            f"{split_dirs['train']}/: part of each class is held out instead.")
        classes, files = _collect_split(walker, root, split_dirs, skip_files, warnings)
    else:
        layout, split_dirs = "flat", {}
        dirs, stray = _class_dirs(walker, root, skip_files)
        if stray and not dirs:
            raise UnlabelledFolderError(f"{root} holds {len(stray)} photos but no class folders. Put the "
                                        "photos of each kind in its own folder: root/<class>/photo.jpg")
        walker.skipped.extend((p, "stray file outside class folders") for p in stray)
        classes = sorted(dirs, key=natural_key)
        files = {"train": {c: list(walker.images(dirs[c])) for c in classes}, "val": {}, "test": {}}
    if len(classes) < min_classes:
        found = f" (found only {classes[0]!r})" if classes else ""
        need = "at least two class folders" if min_classes > 1 else "a class folder"
        if (inner := wrapped_dataset(root)) is not None:
            only = os.path.relpath(inner, root).split(os.sep)[0]
            raise WrappedDatasetError(f"{root} holds only the folder {only!r}; the class folders seem to be in "
                                      f"{inner}: choose that folder.", inner)
        raise DatasetError(f"{root} needs {need}{found}.{_archives_note(root)} {LAYOUT_HELP}")
    if layout == "flat" and not 0.0 < float(val_fraction) < 1.0:
        raise DatasetError(f"Validation fraction must be between 0 and 1, not {val_fraction}.")
    all_paths = [p for role in files.values() for lst in role.values() for p in lst]
    bad = _probe_all(all_paths, check_images, callback, cancel)
    for role in files.values():
        for cls in role:
            role[cls] = _sorted_paths((p for p in role[cls] if p not in bad), root)
    for cls in classes:
        if not any(files[r].get(cls) for r in files):
            where = os.path.join(root, split_dirs.get("train", ""), cls)
            first_bad = next((p for p in bad if p.startswith(where + os.sep)), None)
            why = f"only unreadable images (e.g. {first_bad}: {bad[first_bad]})" if first_bad else "no images"
            raise DatasetError(f"Class folder {where} has {why}. Remove it or add photos.")
    val_fraction, seed = float(val_fraction), int(seed)
    if layout == "flat" and split_path and os.path.isfile(split_path):
        data, files["train"], files["val"] = _reuse_split(split_path, files["train"], root, warnings)
        val_fraction = float(data.get("val_fraction", val_fraction))
        seed = int(data.get("seed", seed))
    elif layout == "flat":
        files["train"], files["val"] = _flat_split(files["train"], val_fraction, seed)

    samples = {role: [Sample(p, i) for i, c in enumerate(classes) for p in files[role].get(c, ())]
               for role in files}
    scan = DatasetScan(root=root, layout=layout, split_dirs=dict(split_dirs), classes=classes,
                       display_names=[names.get(c, c) for c in classes], train=samples["train"],
                       val=samples["val"], test=samples["test"], skipped=walker.skipped,
                       unreadable=[(p, bad[p]) for p in _sorted_paths(bad, root)],
                       warnings=warnings, names_file=names_path, val_fraction=val_fraction,
                       seed=seed)
    _add_warnings(scan, names)
    return scan


def _add_warnings(scan: DatasetScan, names: dict[str, str]) -> None:
    tr, va = scan.counts("train"), scan.counts("val")
    cls = scan.classes
    small, big = min(tr), max(tr)
    if big >= 3 * max(small, 1) and big > small:
        lo, hi = cls[tr.index(small)], cls[tr.index(big)]
        scan.warnings.append(f"Classes are imbalanced: {hi!r} has {big} training images, "
                             f"{lo!r} only {small}.")
    lists = [
        ("Classes with fewer than 5 training images", [c for c, n in zip(cls, tr) if n < 5]),
        ("Classes with no validation images",
         [c for c, n in zip(cls, va) if n == 0] if scan.layout == "split" else []),
        ("Names file lists folders that do not exist",
         sorted(set(names) - set(cls), key=natural_key)),
        ("Folders without a name in the names file", [c for c in cls if names and c not in names]),
    ]
    scan.warnings.extend(f"{label}: {_few(items)}" for label, items in lists if items)
