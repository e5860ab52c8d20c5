"""What the CLI writes is checked before the work starts: nothing is overwritten unless asked
(``--overwrite``), the model in use and the photos are never overwritten at all, and a folder that
cannot be written is said before minutes of work, not after."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable

from flowerstudio.core.foundation.errors import UserError, ensure_writable
from flowerstudio.core.foundation.fsnames import display_path
from flowerstudio.core.photos.walk import is_app_folder


def _real(path: str | os.PathLike) -> str:
    return os.path.normcase(os.path.realpath(os.fspath(path)))


def output_file(path: str | os.PathLike, overwrite: bool, protected: Iterable[str | os.PathLike] = ()) -> Path:
    """``path`` checked for writing a file: refused when it exists (unless ``overwrite``), always when it is
    one of ``protected`` (the model in use, the photos given) or a folder; its folder must be writable."""
    path = Path(path)
    target = _real(path)
    if any(target == _real(p) for p in protected):
        raise UserError(f"{display_path(path)} is the model or one of the photos this command reads: it is never "
                        "overwritten. Choose another file name.")
    if path.is_dir():
        raise UserError(f"{display_path(path)} is a folder: give the name of a file to write.")
    if path.exists() and not overwrite:
        raise UserError(f"{display_path(path)} already exists: choose another file name, or add --overwrite to "
                        "replace it.")
    ensure_writable(path.parent if str(path.parent) else ".", 0, "the output folder")
    return path


def output_folder(folder: str | os.PathLike, files: Iterable[str], overwrite: bool) -> Path:
    """A folder for report ``files``: refused when one of them is there already (unless ``overwrite``)."""
    folder = Path(folder)
    taken = [name for name in files if (folder / name).exists()]
    if taken and not overwrite:
        raise UserError(f"{display_path(folder)} already holds {', '.join(taken)}: choose another folder, or add "
                        "--overwrite to replace them.")
    ensure_writable(folder, 0, "the output folder")
    return folder


def sort_folder(dest: str | os.PathLike, inputs: Iterable[str | os.PathLike], overwrite: bool) -> Path:
    """A folder to sort photos into: never inside the folders being labelled (the copies would be labelled
    next time); a folder holding other files only with ``overwrite`` (nothing there is replaced even then)."""
    dest = Path(dest)
    target = _real(dest)
    for item in inputs:
        root = _real(item)
        if os.path.isdir(item) and (target == root or target.startswith(root.rstrip(os.sep) + os.sep)):
            raise UserError(f"{display_path(dest)} is inside {display_path(item)}, the photos being labelled: sort "
                            "into a folder elsewhere.")
    if dest.is_dir() and not is_app_folder(str(dest)) and any(dest.iterdir()) and not overwrite:
        raise UserError(f"{display_path(dest)} already holds other files: sort into a new or empty folder, or add "
                        "--overwrite to sort into it anyway (no file there is replaced).")
    ensure_writable(dest, 0, "the folder to sort into")
    return dest
