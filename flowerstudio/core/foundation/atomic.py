"""Crash-safe file writes: a reader sees the old file or the new one, never half of one.

A write goes to a temporary file beside its target, named with the writing process's id
(``.name.<pid>.<random>.tmp``), is fsynced and renamed into place. A process killed mid-write leaves
that temporary file behind; ``remove_stale_temp_files`` clears the ones whose process is gone. An
OSError (disk full, read-only, no permission) is raised as a DiskError naming the target, not the
temporary file.
"""
from __future__ import annotations

import contextlib
import errno
import os
import re
import tempfile
from pathlib import Path
from typing import Iterator

from flowerstudio.core.foundation.errors import disk_errors


def _current_umask() -> int:
    # os.umask can only be read by setting it; done once, at import (before worker threads
    # exist), so no other thread ever creates a file under the temporary value.
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_UMASK = _current_umask()


def _normal_mode(path: Path) -> int:
    """The mode a plain ``open(path, 'w')`` would give: the old file's, else 0666 minus the umask."""
    try:
        return os.stat(path).st_mode & 0o7777
    except OSError:
        return 0o666 & ~_UMASK


def _give_mode(fd: int, path: Path) -> None:
    # mkstemp makes files 0600; a model or CSV the user shares should get their usual mode.
    if hasattr(os, "fchmod"):
        try:
            os.fchmod(fd, _normal_mode(path))
        except OSError:
            pass  # some network filesystems refuse chmod; the file is still written


def temp_prefix(name: str) -> str:
    """The start of a temporary file's name for ``name``: the pid says whose it is (see remove_stale_temp_files)."""
    return f".{name}.{os.getpid()}."


def _temp_beside(path: Path, suffix: str = ".tmp") -> tuple[int, str]:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=temp_prefix(path.name), suffix=suffix, dir=path.parent)
    _give_mode(fd, path)
    return fd, tmp


def _discard(tmp: str) -> None:
    try:
        os.unlink(tmp)
    except OSError:
        pass


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` via a temp file in the same folder, fsync, then os.replace."""
    path = Path(path)
    with disk_errors(path):
        fd, tmp = _temp_beside(path)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        except BaseException:
            _discard(tmp)
            raise
    _fsync_dir(path.parent)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, overwrite: bool = True) -> Iterator[Path]:
    """For writers that want a file name (torch.jit.save, onnx export): yields a temp path beside
    ``path``; when the block ends without an error it is fsynced and renamed onto ``path``,
    otherwise removed. ``overwrite=False``: FileExistsError rather than replace an existing file."""
    path = Path(path)
    with disk_errors(path):
        fd, tmp = _temp_beside(path, ".tmp" + path.suffix)  # some writers pick the format by the suffix
        os.close(fd)
    try:
        yield Path(tmp)
        with disk_errors(path):
            with open(tmp, "rb+") as fh:
                os.fsync(fh.fileno())
            if overwrite:
                os.replace(tmp, path)
            else:
                rename_no_replace(tmp, path)
    except BaseException:
        _discard(tmp)
        raise
    _fsync_dir(path.parent)


def rename_no_replace(src: str | os.PathLike, dst: str | os.PathLike) -> None:
    """Rename ``src`` to ``dst``; FileExistsError if ``dst`` exists (os.rename would replace it on POSIX)."""
    try:
        os.link(src, dst)  # atomic "create only if absent"
    except FileExistsError:
        raise
    except OSError:
        # No hard links here (FAT, some network shares). Windows' rename never replaces;
        # elsewhere the check and the rename are a few microseconds apart.
        if os.name != "nt" and os.path.lexists(dst):
            raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), os.fspath(dst)) from None
        os.rename(src, dst)
        return
    os.unlink(src)


def _fsync_dir(folder: Path) -> None:
    # Makes the rename itself durable; not possible (nor needed) on Windows.
    if os.name != "posix":
        return
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def make_unique_dir(parent: str | os.PathLike, name: str) -> Path:
    """Create ``parent/name`` (or name-2, name-3, ... when taken) and return it.

    os.mkdir either creates the folder or fails because it exists, so two processes
    asking for the same name at the same moment always get two different folders.
    """
    parent = Path(parent)
    with disk_errors(parent, "make a folder in"):
        parent.mkdir(parents=True, exist_ok=True)
        n = 1
        while True:
            path = parent / (name if n == 1 else f"{name}-{n}")
            try:
                os.mkdir(path)
                return path
            except FileExistsError:
                n += 1


_TEMP_NAME = re.compile(r"^\..+\.(\d+)\.[^.]+\.(tmp|part)(\.\w+)?$")


def process_alive(pid: int) -> bool:
    """Whether process ``pid`` still runs (on Windows, where that cannot be asked cheaply: assume so)."""
    if pid == os.getpid():
        return True
    if os.name != "posix":
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # it exists, owned by someone else
    return True


def remove_stale_temp_files(folder: str | os.PathLike) -> list[str]:
    """Delete the temporary files in ``folder`` that a killed process left (its pid is in the name and it
    no longer runs); returns their names. Files of running processes, and every other file, stay."""
    removed = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for e in entries:
        m = _TEMP_NAME.match(e.name)
        if m and e.is_file(follow_symlinks=False) and not process_alive(int(m.group(1))):
            try:
                os.unlink(e.path)
                removed.append(e.name)
            except OSError:
                pass
    return removed


def write_each(out: Path, writers: dict) -> tuple[list[Path], list[str]]:
    """Run each ``name -> write(path)`` into the folder ``out``: (written paths, 'name: why' for each that
    failed). A report of several files keeps every file the disk still took (write what fits, say what not)."""
    from flowerstudio.core.foundation.errors import UserError

    with disk_errors(out, "make the folder"):
        out.mkdir(parents=True, exist_ok=True)
    written, failed = [], []
    for name, write in writers.items():
        try:
            write(out / name)
            written.append(out / name)
        except (OSError, UserError) as exc:
            failed.append(f"{name}: {exc}")
    return written, failed
