"""Persistent user choices (QSettings, org "FlowerStudio", app "FlowerStudio")."""
from __future__ import annotations

from typing import Any

from PySide6.QtCore import QSettings

ORG = "FlowerStudio"
APP = "FlowerStudio"
MAX_RECENT = 8


_instance: QSettings | None = None


def settings() -> QSettings:
    """One shared QSettings: creating one per call re-reads and re-writes the file
    each time, which stalls the GUI thread on a slow disk. Qt writes changes back
    lazily from the event loop, and at exit."""
    global _instance
    if _instance is None:
        _instance = QSettings(ORG, APP)
    return _instance


def sync() -> None:
    settings().sync()


def get(key: str, default: Any = None, kind: type | None = None) -> Any:
    """Read a value; QSettings returns strings from ini files, so convert by ``kind``."""
    value = settings().value(key, default)
    if value is None:
        return default
    kind = kind or (type(default) if default is not None else None)
    try:
        if kind is bool:
            return value if isinstance(value, bool) else str(value).lower() in ("1", "true", "yes")
        if kind in (int, float, str):
            return kind(value)
    except (TypeError, ValueError):
        return default
    return value


def put(key: str, value: Any) -> None:
    settings().setValue(key, value)


def recent(kind: str) -> list[str]:
    """Recently opened paths of a kind ('datasets' or 'models'), newest first."""
    value = settings().value(f"recent/{kind}", [])
    if isinstance(value, str):
        value = [value]
    return [str(v) for v in (value or []) if v]


def add_recent(kind: str, path: str) -> list[str]:
    items = [path] + [p for p in recent(kind) if p != path]
    items = items[:MAX_RECENT]
    settings().setValue(f"recent/{kind}", items)
    return items


def clear_recent(kind: str) -> None:
    settings().remove(f"recent/{kind}")
