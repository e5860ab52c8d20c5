"""Class names: the order folders sort in, and the display names of ``cat_to_name.json``."""
from __future__ import annotations

import json
import os
import re

from flowerstudio.core.foundation.errors import UserError

NAMES_FILE_DEFAULT = "cat_to_name.json"
_CHUNK = re.compile(r"(\d+)")


class DatasetError(UserError, ValueError):
    """The folder cannot be used as a dataset; the message names it and says why."""


def natural_key(name: str) -> tuple:
    """Sort key so '2' < '10' and 'a2' < 'a10'; case-insensitive, ties broken by the name."""
    parts = tuple(
        (0, int(c), c) if i % 2 else (1, c.casefold(), c)
        for i, c in enumerate(_CHUNK.split(name)) if c
    )
    return (parts, name)


def read_json(path: str, what: str):
    """A JSON file's content; DatasetError naming the file (and the line) when it cannot be read."""
    try:
        with open(path, "rb") as fh:
            return json.loads(fh.read().decode("utf-8-sig"))
    except FileNotFoundError as exc:
        raise DatasetError(f"{what} not found: {path}") from exc
    except json.JSONDecodeError as exc:
        raise DatasetError(f"{what} {path} is not valid JSON (line {exc.lineno}, "
                           f"column {exc.colno}: {exc.msg}).") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise DatasetError(f"Cannot read {what.lower()} {path}: {getattr(exc, 'strerror', None) or exc}") from exc


def load_names(path: str | os.PathLike) -> dict[str, str]:
    """Read a JSON object mapping class folder name -> display name."""
    path = os.fspath(path)
    data = read_json(path, "Names file")
    if not isinstance(data, dict):
        raise DatasetError(f"Names file {path} must hold a JSON object mapping folder name to "
                           f'display name, like {{"1": "pink primrose"}}, not a '
                           f"{type(data).__name__}.")
    bad = [k for k, v in data.items() if not isinstance(v, str)]
    if bad:
        raise DatasetError(f"Names file {path}: display names must be text; not for {few(bad)}.")
    return dict(data)


def few(items, n: int = 5) -> str:
    """'a', 'b', 'c' and 4 more."""
    items = list(items)
    more = f" and {len(items) - n} more" if len(items) > n else ""
    return ", ".join(repr(x) for x in items[:n]) + more
