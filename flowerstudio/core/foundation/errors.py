"""The errors a user sees: bad input and problems of the computer, shown as a message, never a traceback.

Every error the app raises for the user derives from ``UserError``; the CLI prints it on one line and
exits with status 2, the GUI shows it in a message box. File-system errors are the most common: an
``OSError`` is turned into a ``DiskError`` that names the file, says in plain words what happened
(disk full, no permission, read-only, name too long) and what to do.
"""
from __future__ import annotations

import contextlib
import errno
import os
import shutil
import tempfile
from typing import Iterator, Optional

from flowerstudio.core.foundation.fsnames import display_path


class UserError(Exception):
    """Something the user can fix (a wrong file, a full disk): its message says what and how."""


# errno -> (what happened, what to do), in a newcomer's words.
_PLAIN = {
    errno.ENOSPC: ("the disk is full", "free some space on it, or choose a folder on another disk"),
    errno.EROFS: ("the disk is read-only", "choose a folder on a disk you can write to"),
    errno.EACCES: ("you have no permission to use it", "choose a folder you can write to, or change its permissions"),
    errno.EPERM: ("the system does not allow it", "choose another folder, or change its permissions"),
    errno.ENAMETOOLONG: ("the name is too long for this disk", "use a shorter folder or file name"),
    errno.ENOENT: ("it does not exist (moved or deleted?)", "check the path"),
    errno.ENOTDIR: ("part of the path is a file, not a folder", "check the path"),
    errno.EISDIR: ("it is a folder, not a file", "choose a file"),
    errno.EIO: ("the disk reported a read or write error", "check the disk (it may be failing or unplugged)"),
    errno.EEXIST: ("it already exists", "choose another name"),
}
if hasattr(errno, "EDQUOT"):
    _PLAIN[errno.EDQUOT] = ("your disk quota is used up", "free some space, or choose a folder on another disk")


def plain_reason(exc: OSError) -> tuple[str, str]:
    """(what happened, what to do) for an OSError, in plain words."""
    if exc.errno in _PLAIN:
        return _PLAIN[exc.errno]
    return (exc.strerror or str(exc) or type(exc).__name__), "try again, or choose another folder"


class DiskError(UserError, OSError):
    """A file or folder could not be read or written. ``str()`` names the path, the reason and what to do.

    It is an OSError too (same errno), so code that handles OSError per file keeps doing so."""

    def __init__(self, path: str | os.PathLike, cause: OSError, doing: str = "write") -> None:
        OSError.__init__(self, cause.errno, cause.strerror)
        self.path = os.fspath(path)
        self.doing = doing
        self.what, self.advice = plain_reason(cause)
        if cause.strerror and cause.errno is not None and cause.strerror != os.strerror(cause.errno):
            self.what += f" ({cause.strerror})"  # a figure the caller added, e.g. the space needed

    def __str__(self) -> str:
        return f"Cannot {self.doing} {display_path(self.path)}: {self.what}. What to do: {self.advice}."

    def __reduce__(self):  # errors cross process boundaries under torchrun and in worker processes
        return (_rebuild_disk_error, (self.path, self.errno, self.strerror, self.doing))


def _rebuild_disk_error(path: str, code: Optional[int], strerror: Optional[str], doing: str) -> DiskError:
    return DiskError(path, OSError(code, strerror), doing)


def describe(exc: BaseException) -> str:
    """The one-line message for an error shown to the user (DiskError, any OSError, any UserError)."""
    if isinstance(exc, DiskError) or (isinstance(exc, UserError) and not isinstance(exc, OSError)):
        return " ".join(str(exc).split())
    if isinstance(exc, OSError):
        where = exc.filename if exc.filename is not None else "a file"
        return str(DiskError(where, exc, "use"))
    return " ".join(str(exc).split()) or type(exc).__name__


@contextlib.contextmanager
def disk_errors(path: str | os.PathLike, doing: str = "write") -> Iterator[None]:
    """Turn an OSError raised in the block into a DiskError naming ``path`` (a DiskError passes as it is)."""
    try:
        yield
    except DiskError:
        raise
    except OSError as exc:
        raise DiskError(path, exc, doing) from exc


# Room left free beyond what a job is known to write: logs, histories and the filesystem's own needs.
SPARE_BYTES = 16 * 1024 * 1024


def ensure_writable(folder: str | os.PathLike, need_bytes: int = 0, what: str = "the folder") -> None:
    """Check, before long work, that ``folder`` can be made, written in, and has ``need_bytes`` free.

    Raises DiskError naming ``folder``; the work has not started, so nothing is lost.
    """
    with disk_errors(folder, f"write in {what}"):
        os.makedirs(folder, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".flowerstudio-probe-", dir=folder)
        try:
            os.write(fd, b"0")
        finally:
            os.close(fd)
            os.unlink(probe)
        free = shutil.disk_usage(folder).free
        if free < need_bytes + SPARE_BYTES:
            raise OSError(errno.ENOSPC, f"{free / 1e6:.0f} MB free, {(need_bytes + SPARE_BYTES) / 1e6:.0f} MB needed")
