"""The lists a user keeps inside a dataset folder, in ``DATA/.flowerstudio/``:

- ``exclude.txt``: photos left out of scanning, training and the doctor (nothing is deleted);
- ``keep.txt``: findings of the doctor the user has looked at and kept ("never ask again").

Plain text, one entry a line, paths relative to the dataset folder with '/' separators, '#'
starts a comment, so a user can read and edit them. Every write replaces the whole file
atomically. Plain Python (no torch): the scan reads the exclusions before the engine loads.
"""
from __future__ import annotations

import os
import posixpath
from pathlib import Path
from typing import Iterable

from flowerstudio.core.foundation.atomic import atomic_write_bytes
from flowerstudio.core.foundation.errors import UserError
from flowerstudio.core.foundation.fsnames import FS_ERRORS, display_path, encode_text
from flowerstudio.core.foundation.vocab import Finding

STATE_DIR = ".flowerstudio"
EXCLUDE_FILE = "exclude.txt"
KEEP_FILE = "keep.txt"

_EXCLUDE_HEADER = ("# Photos Flower Studio leaves out of training and checks (one path a line, relative to\n"
                   "# the dataset folder). Delete a line to bring the photo back.\n")
_KEEP_HEADER = ("# Doctor findings you decided to keep: the doctor does not report them again.\n"
                "# kind<TAB>path (duplicates: kind<TAB>path<TAB>path), paths relative to the dataset folder.\n")

# One kept finding: (kind, relative path) or, for a duplicate pair, (kind, path a, path b) sorted.
Keep = tuple


class EditError(UserError, ValueError):
    """A change to the dataset folder cannot be made; the message names the file and the reason."""


def state_file(data_dir: str | os.PathLike, name: str) -> Path:
    return Path(os.path.abspath(os.fspath(data_dir))) / STATE_DIR / name


def relative_path(data_dir: str | os.PathLike, path: str | os.PathLike) -> str:
    """``path`` (absolute, or relative to ``data_dir``) as the lists store it: relative, '/' separators."""
    root = os.path.abspath(os.fspath(data_dir))
    full = os.path.normpath(os.path.join(root, os.fspath(path)))
    rel = os.path.relpath(full, root).replace(os.sep, "/")
    if rel == "." or rel == ".." or rel.startswith("../"):
        raise EditError(f"{display_path(full)} is not inside the dataset folder {display_path(root)}")
    return rel


def _listable(rel: str, separators: str = "\n\r") -> str:
    """``rel`` if a line of a list file can hold it; else an EditError (the name holds a separator)."""
    if any(c in rel for c in separators):
        raise EditError(f"{display_path(rel)}: a file name with a line break or tab cannot be listed; rename it")
    return rel


def _read_lines(file: Path) -> list[str]:
    """The entries of a list file; a missing file is an empty list."""
    try:
        data = file.read_bytes()
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise EditError(f"Cannot read {display_path(file)}: {exc.strerror or exc}") from exc
    # Surrogate escapes: a name that is not UTF-8 comes back as the same str os functions use.
    text = data.decode("utf-8", FS_ERRORS).removeprefix("\ufeff")
    return [line.rstrip("\r") for line in text.split("\n")
            if line.strip() and not line.lstrip().startswith("#")]


def _write_lines(file: Path, header: str, lines: Iterable[str]) -> None:
    body = "".join(f"{line}\n" for line in sorted(lines))
    try:
        atomic_write_bytes(file, encode_text(header + body))
    except OSError as exc:
        raise EditError(f"Cannot write {display_path(file)}: {exc.strerror or exc}") from exc


def _as_entry(rel: str) -> str:
    # A name starting with '#' would read back as a comment; "./" keeps it a path (normpath drops it).
    return "./" + rel if rel.startswith("#") else rel


def _from_entry(text: str) -> str:
    return posixpath.normpath(text.replace("\\", "/"))


def read_exclusions(data_dir: str | os.PathLike) -> set[str]:
    """The excluded photos, as paths relative to ``data_dir`` with '/' separators."""
    return {_from_entry(line) for line in _read_lines(state_file(data_dir, EXCLUDE_FILE))}


def add_exclusions(data_dir: str | os.PathLike, paths: Iterable[str | os.PathLike]) -> set[str]:
    """Exclude ``paths`` (absolute or relative to ``data_dir``); returns the new set. Files stay where they are."""
    new = {_listable(relative_path(data_dir, p)) for p in paths}
    return _update_exclusions(data_dir, lambda old: old | new)


def remove_exclusions(data_dir: str | os.PathLike, paths: Iterable[str | os.PathLike]) -> set[str]:
    """Bring ``paths`` back into the dataset; returns the new set."""
    gone = {relative_path(data_dir, p) for p in paths}
    return _update_exclusions(data_dir, lambda old: old - gone)


def follow_exclusion(data_dir: str | os.PathLike, old: str | os.PathLike, new: str | os.PathLike) -> None:
    """An excluded photo moved from ``old`` to ``new``: it stays excluded under its new name."""
    before, after = relative_path(data_dir, old), relative_path(data_dir, new)
    _update_exclusions(data_dir, lambda ex: (ex - {before}) | {_listable(after)} if before in ex else ex)


def _update_exclusions(data_dir, change) -> set[str]:
    old = read_exclusions(data_dir)
    new = change(old)
    if new != old:
        _write_lines(state_file(data_dir, EXCLUDE_FILE), _EXCLUDE_HEADER, map(_as_entry, new))
    return new


def keep_key(data_dir: str | os.PathLike, finding: Finding | str, *paths: str | os.PathLike) -> Keep:
    """How a kept finding is stored: its kind and its photos' relative paths (a pair in sorted order)."""
    finding = Finding(finding)
    rels = [relative_path(data_dir, p) for p in paths]
    if len(rels) != (2 if finding == Finding.DUPLICATE else 1):
        raise ValueError(f"a kept {finding} finding names {2 if finding == Finding.DUPLICATE else 1} "
                         f"photo(s), not {len(rels)}")
    return (finding, *sorted(rels))


def read_keeps(data_dir: str | os.PathLike) -> set[Keep]:
    """Every finding the user kept; lines that do not parse (hand edits) are ignored."""
    keeps = set()
    for line in _read_lines(state_file(data_dir, KEEP_FILE)):
        kind, *rels = line.split("\t")
        if kind in {f.value for f in Finding} and len(rels) == (2 if kind == Finding.DUPLICATE else 1):
            keeps.add((Finding(kind), *sorted(_from_entry(r) for r in rels)))
    return keeps


def add_keep(data_dir: str | os.PathLike, finding: Finding | str, *paths: str | os.PathLike) -> set[Keep]:
    """Remember that the user kept this finding (the doctor leaves it out from now on); returns every keep."""
    key = keep_key(data_dir, finding, *paths)
    for rel in key[1:]:
        _listable(rel, "\n\r\t")
    keeps = read_keeps(data_dir)
    if key not in keeps:
        keeps.add(key)
        _write_keeps(data_dir, keeps)
    return keeps


def remove_keep(data_dir: str | os.PathLike, finding: Finding | str, *paths: str | os.PathLike) -> set[Keep]:
    """Forget a kept finding (undo of "keep"): the doctor lists it again; returns every keep left."""
    key = keep_key(data_dir, finding, *paths)
    keeps = read_keeps(data_dir)
    if key in keeps:
        keeps.discard(key)
        _write_keeps(data_dir, keeps)
    return keeps


def _write_keeps(data_dir: str | os.PathLike, keeps: set[Keep]) -> None:
    _write_lines(state_file(data_dir, KEEP_FILE), _KEEP_HEADER, ("\t".join(map(str, k)) for k in keeps))
