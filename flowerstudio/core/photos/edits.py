"""Moving a photo into another class folder, with a log for undo: ``DATA/.flowerstudio/moves.jsonl``.

Nothing is overwritten (a taken name becomes name_2.jpg, name_3.jpg...) and nothing is deleted:
a move is a rename within the dataset folder. Every move and undo is one JSON line in the log
(paths relative to the dataset folder), so undo works after the app restarts. A dataset that
cannot be changed (read-only disk, no permission) gets an EditError naming the file and the reason.
"""
from __future__ import annotations

import itertools
import json
import os
import time
from dataclasses import dataclass

from flowerstudio.core.foundation.atomic import rename_no_replace
from flowerstudio.core.photos.walk import detect_split_dirs
from flowerstudio.core.photos.lists import EditError, follow_exclusion, relative_path, state_file
from flowerstudio.core.foundation.fsnames import FS_ERRORS, display_path, json_bytes

MOVES_FILE = "moves.jsonl"


@dataclass(frozen=True)
class MoveRecord:
    """One move: the photo was at ``source`` and is now at ``dest`` (absolute paths)."""

    data_dir: str
    source: str
    dest: str
    when: float  # time.time() of the move


def move_photo(data_dir: str | os.PathLike, path: str | os.PathLike, to_class: str) -> MoveRecord:
    """Move the photo ``path`` into the class folder ``to_class`` of the same part (train/valid/test).

    The class folder must exist in the dataset (in a train/valid split: at least under train/).
    Raises EditError when the move cannot happen, saying why; the photo then stays where it was.
    """
    root = os.path.abspath(os.fspath(data_dir))
    rel = relative_path(root, path)
    source = os.path.join(root, *rel.split("/"))
    if not os.path.isfile(source):
        raise EditError(f"Cannot move {display_path(source)}: file not found")
    folder = _class_folder(root, rel, to_class)
    dest = _rename_unique(source, folder)
    record = MoveRecord(root, source, dest, time.time())
    _log_or_take_back(root, "move", record.source, record.dest, record.when)
    follow_exclusion(root, source, dest)  # an excluded photo stays excluded wherever it goes
    return record


def undo(record: MoveRecord) -> None:
    """Put a moved photo back where it was. Raises EditError if its old place is taken again."""
    if not os.path.isfile(record.dest):
        raise EditError(f"Cannot undo the move: {display_path(record.dest)} is no longer there")
    if os.path.lexists(record.source):
        raise EditError(f"Cannot undo the move: {display_path(record.source)} exists again "
                        "(nothing is overwritten)")
    _rename(record.dest, record.source, "move back")
    _log_or_take_back(record.data_dir, "undo", record.dest, record.source, time.time())
    follow_exclusion(record.data_dir, record.dest, record.source)


def read_moves(data_dir: str | os.PathLike) -> list[MoveRecord]:
    """The moves in the log that were not undone, oldest first (lines that do not parse are ignored)."""
    root = os.path.abspath(os.fspath(data_dir))
    try:
        data = state_file(root, MOVES_FILE).read_bytes()
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise EditError(f"Cannot read {display_path(state_file(root, MOVES_FILE))}: {exc.strerror or exc}") from exc
    moves: list[MoveRecord] = []
    for line in data.decode("utf-8", FS_ERRORS).splitlines():
        try:
            entry = json.loads(line)
            op, src, dst, when = entry["op"], entry["from"], entry["to"], float(entry["time"])
        except (ValueError, KeyError, TypeError):
            continue
        full = [os.path.join(root, *p.split("/")) for p in (src, dst)]
        if op == "move":
            moves.append(MoveRecord(root, full[0], full[1], when))
        elif op == "undo":
            # An undo names the move's paths the other way round; it cancels the latest such move.
            match = [i for i, m in enumerate(moves) if (m.dest, m.source) == (full[0], full[1])]
            if match:
                del moves[match[-1]]
    return moves


def _class_folder(root: str, rel: str, to_class: str) -> str:
    """The folder ``to_class`` beside the photo's class folder: root/<class>, or root/<part>/<class>."""
    if not to_class or to_class in (".", "..") or "/" in to_class or os.sep in to_class:
        raise EditError(f"Cannot move {rel}: {to_class!r} is not a class folder name")
    parts = rel.split("/")
    try:
        split_dirs = detect_split_dirs(root)
    except OSError as exc:
        raise EditError(f"Cannot read dataset folder {display_path(root)}: {exc.strerror or exc}") from exc
    in_part = "train" in split_dirs and len(parts) >= 3 and parts[0] in split_dirs.values()
    base = os.path.join(root, parts[0]) if in_part else root
    if parts[1 if in_part else 0] == to_class:
        raise EditError(f"{display_path(rel)} is already in class {to_class!r}")
    folder = os.path.join(base, to_class)
    # A valid/ or test/ part may lack a class that train/ has: the folder is made for the move.
    known = os.path.join(root, split_dirs["train"], to_class) if in_part else folder
    if not os.path.isdir(known):
        raise EditError(f"Cannot move {display_path(rel)}: the dataset has no class folder {to_class!r}")
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError as exc:
        raise EditError(f"Cannot make class folder {display_path(folder)}: {exc.strerror or exc}") from exc
    return folder


def _rename_unique(source: str, folder: str) -> str:
    """Rename ``source`` into ``folder`` under its name, or name_2, name_3... when that is taken."""
    stem, ext = os.path.splitext(os.path.basename(source))
    names = itertools.chain([stem + ext], (f"{stem}_{n}{ext}" for n in itertools.count(2)))
    for name in names:
        try:
            _rename(source, os.path.join(folder, name), "move")
            return os.path.join(folder, name)
        except FileExistsError:
            continue


def _rename(source: str, dest: str, verb: str) -> None:
    """rename_no_replace, as an EditError; a half-done rename (new name linked, old one kept) is taken back."""
    try:
        rename_no_replace(source, dest)
    except FileExistsError:
        raise
    except OSError as exc:
        if os.path.lexists(source) and os.path.lexists(dest) and os.path.samefile(source, dest):
            os.unlink(dest)  # the hard link was made but the old name could not be removed
        raise EditError(f"Cannot {verb} {display_path(source)}: {exc.strerror or exc}") from exc


def _log_or_take_back(root: str, op: str, source: str, dest: str, when: float) -> None:
    """Append the rename to the log; if the log cannot be written, undo the rename (it could not be undone later)."""
    entry = {"op": op, "from": relative_path(root, source), "to": relative_path(root, dest), "time": when}
    log = state_file(root, MOVES_FILE)
    try:
        log.parent.mkdir(exist_ok=True)
        with open(log, "ab") as fh:
            fh.write(json_bytes(entry) + b"\n")
            fh.flush()
            os.fsync(fh.fileno())
    except OSError as exc:
        _rename(dest, source, "take back")
        raise EditError(f"Cannot write the move log {display_path(log)}: {exc.strerror or exc}; "
                        f"{display_path(source)} stays where it was") from exc
