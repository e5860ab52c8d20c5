"""File names that are not valid UTF-8 (old zip archives, Windows shares): keep them exact.

Python hands such a name over as a str with "surrogate escapes" (b'caf\\xe9.jpg' becomes
'caf\\udce9.jpg'); os functions turn it back into the same bytes, but a plain
``.encode('utf-8')`` fails. Everything the app writes goes through these helpers, so a
saved name always leads back to the same file.
"""
from __future__ import annotations

import json
import os
import sys

# What os.fsencode uses: 'surrogateescape' on POSIX (the original bytes come back),
# 'surrogatepass' on Windows.
FS_ERRORS = sys.getfilesystemencodeerrors()


def encode_text(text: str) -> bytes:
    """UTF-8 bytes for a text file (log, CSV); an undecodable name is written as its original bytes."""
    return text.encode("utf-8", FS_ERRORS)


def json_text(obj, **kw) -> str:
    """JSON that is always valid UTF-8: readable non-ASCII where possible; a name that is not
    UTF-8 is stored as \\udcXX escapes, which json.loads turns back into the same str path."""
    text = json.dumps(obj, ensure_ascii=False, **kw)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = json.dumps(obj, ensure_ascii=True, **kw)
    return text


def json_bytes(obj, **kw) -> bytes:
    """json_text as UTF-8 bytes, for atomic_write_bytes."""
    return json_text(obj, **kw).encode("utf-8")


def display_path(path: str | os.PathLike) -> str:
    """A path fit for a label or a message: undecodable bytes shown as \\xNN, never an error."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")
