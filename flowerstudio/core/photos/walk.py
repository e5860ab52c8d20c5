"""Walking a dataset folder: which entries are class folders and photos, and why the rest is left out.

Rules a user can rely on:
- hidden and system entries (``.DS_Store``, ``__MACOSX``, ``Thumbs.db``...) are skipped and listed;
- a folder Flower Studio wrote (runs, sorted photos, reports: it holds the app's marker file) is never
  taken for a class, wherever it sits;
- a photo belongs to the class folder the user sees it in: a link to a folder elsewhere in the dataset
  (another class, a parent) is not followed, so it never steals that folder's photos, and loops end;
  a link to a folder outside the dataset is followed.
"""
from __future__ import annotations

import json
import os
from typing import Iterator, Optional

from flowerstudio.core.foundation.atomic import atomic_write_bytes
from flowerstudio.core.foundation.events import CancelToken
from flowerstudio.core.photos.imageio import is_hidden_or_system, is_image_file, is_photo_file
from flowerstudio.core.photos.lists import STATE_DIR
from flowerstudio.core.photos.names import few

# Folder names per role, in order of preference when several exist.
ROLE_NAMES = (("train", ("train",)), ("val", ("valid", "val", "validation")), ("test", ("test",)))
EXCLUDED = "excluded"  # the reason a photo listed in .flowerstudio/exclude.txt is skipped
# The file that marks a folder the app wrote (runs, sorted photos, reports): never a class folder.
MARKER = ".flowerstudio-folder"
APP_FOLDER = "a folder Flower Studio wrote (runs, sorted photos or a report): not a class"


def mark_app_folder(folder: str | os.PathLike, kind: str) -> None:
    """Mark ``folder`` as written by the app, so a scan of a dataset around it leaves it out."""
    path = os.path.join(os.fspath(folder), MARKER)
    if not os.path.exists(path):
        atomic_write_bytes(path, json.dumps({"kind": kind, "app": "Flower Studio"}).encode())


def is_app_folder(folder: str) -> bool:
    return os.path.isfile(os.path.join(folder, MARKER))


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


class Walker:
    """Collects image files below a dataset folder, recording everything it leaves out (``skipped``)."""

    def __init__(self, cancel: Optional[CancelToken], root: str, excluded: set[str]) -> None:
        self.skipped: list[tuple[str, str]] = []
        self.cancel = cancel
        self.root, self.excluded = root, excluded  # relative paths with '/' (lists.py)
        self.real_root = os.path.realpath(root)

    def entries(self, folder: str) -> list[os.DirEntry]:
        """Non-hidden entries of one folder; hidden/system ones and the app's own folders recorded as skipped."""
        try:
            with os.scandir(folder) as it:
                raw = list(it)
        except OSError as exc:
            self.skipped.append((folder, f"cannot read folder ({exc.strerror or exc})"))
            return []
        raw = [e for e in raw if e.name not in (STATE_DIR, MARKER)]  # the app's own lists, not the user's clutter
        out = []
        for e in raw:
            if is_hidden_or_system(e.name):
                self.skipped.append((e.path, "hidden or system entry"))
            elif _is_dir(e) and is_app_folder(e.path):
                self.skipped.append((e.path, APP_FOLDER))
            else:
                out.append(e)
        return out

    def images(self, folder: str, seen: frozenset = frozenset()) -> Iterator[str]:
        """All image files below ``folder``, recursively. ``seen``: the real paths of the folders above."""
        real = os.path.realpath(folder)
        if real in seen:
            self.skipped.append((folder, "link back to a folder above it (loop): not followed"))
            return
        if self.cancel is not None:
            self.cancel.raise_if_cancelled()
        for e in self.entries(folder):
            try:
                if e.is_dir():
                    if e.is_symlink() and _inside(os.path.realpath(e.path), self.real_root):
                        self.skipped.append((e.path, "link to another folder of the dataset: its photos "
                                                     "count where they are"))
                        continue
                    yield from self.images(e.path, seen | {real})
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

    def class_dirs(self, folder: str, skip_files: set) -> tuple[dict[str, str], list[str]]:
        """Sub-folders of ``folder`` (class name -> path) and the image files lying beside them."""
        dirs: dict[str, str] = {}
        stray_images: list[str] = []  # the caller decides: an error or a skip
        for e in self.entries(folder):
            if _is_dir(e):
                dirs[e.name] = e.path
            elif os.path.normcase(os.path.abspath(e.path)) in skip_files:
                pass
            elif _is_file(e) and is_image_file(e.name):
                stray_images.append(e.path)
            else:
                self.skipped.append((e.path, "not inside a class folder"))
        return dirs, stray_images


def _is_dir(e: os.DirEntry) -> bool:
    try:
        return e.is_dir()
    except OSError:
        return False


def _is_file(e: os.DirEntry) -> bool:
    try:
        return e.is_file()
    except OSError:
        return False


def detect_split_dirs(root: str) -> dict[str, str]:
    """Role -> actual folder name for train/val/test folders directly in root (any case)."""
    with os.scandir(root) as it:
        by_lower = {e.name.lower(): e.name for e in it
                    if not is_hidden_or_system(e.name) and _is_dir(e) and not is_app_folder(e.path)}
    found = {role: next((by_lower[n] for n in names if n in by_lower), None) for role, names in ROLE_NAMES}
    return {role: name for role, name in found.items() if name}


def wrapped_dataset(root: str, depth: int = 3) -> Optional[str]:
    """The folder below ``root`` where a dataset starts when ``root`` only wraps it: a chain of single
    sub-folders with no photos beside them, down to one holding two or more folders or a train/
    folder. None when ``root`` is not such a wrapper (e.g. a single class folder of photos)."""
    path = root
    for _ in range(depth):
        try:
            with os.scandir(path) as it:
                entries = [e for e in it if not is_hidden_or_system(e.name) and e.name != STATE_DIR]
            dirs = [e.path for e in entries if e.is_dir() and not is_app_folder(e.path)]
            if path != root and (len(dirs) >= 2 or "train" in detect_split_dirs(path)):
                return path
            if len(dirs) != 1 or any(e.is_file() and is_photo_file(e.name) for e in entries):
                return None
        except OSError:
            return None
        path = dirs[0]
    return None


_ARCHIVES = (".zip", ".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tar.xz", ".7z", ".rar")


def archives_note(root: str) -> str:
    """' It holds N archives (a.zip, ...): unpack them first ...' when the classes are still zipped up."""
    try:
        with os.scandir(root) as it:
            archives = sorted(e.name for e in it if e.is_file() and e.name.lower().endswith(_ARCHIVES))
    except OSError:
        return ""
    if not archives:
        return ""
    them = "them" if len(archives) > 1 else "it"
    return (f" It holds {len(archives)} archive{'s' if len(archives) > 1 else ''} ({few(archives, 3)}): unpack "
            f"{them} first, then choose the folder the photos unpack into.")

