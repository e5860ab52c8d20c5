"""Every CSV the app writes: formula-safe cells, exact file names, atomic write.

A spreadsheet runs a cell that starts with = + - @ (or tab / carriage return) as a
formula, so a class named "=HYPERLINK(...)" or a file named "+cmd.jpg" could act
when the CSV is opened (CSV injection). Such text cells get a leading apostrophe
(OWASP's advice): shown as text, harmless. Numbers are written as numbers.
"""
from __future__ import annotations

import csv
import io
import os
from typing import Iterable, Sequence

from flowerstudio.core.foundation.atomic import atomic_write_bytes
from flowerstudio.core.foundation.fsnames import encode_text

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value):
    """``value`` unchanged, except text that a spreadsheet would run as a formula: prefixed with '."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def csv_bytes(header: Sequence, rows: Iterable[Sequence]) -> bytes:
    """The CSV file's bytes (UTF-8; a name that is not UTF-8 keeps its original bytes)."""
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow([safe_cell(c) for c in header])
    writer.writerows([safe_cell(c) for c in row] for row in rows)
    return encode_text(buf.getvalue())


def write_csv_file(path: str | os.PathLike, header: Sequence, rows: Iterable[Sequence]) -> None:
    """Write a CSV atomically: a reader sees the previous file or the whole new one."""
    atomic_write_bytes(path, csv_bytes(header, rows))
