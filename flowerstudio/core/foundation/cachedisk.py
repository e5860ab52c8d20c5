"""The feature cache on disk: where it is, its size cap with least-recently-used eviction,
its size and "Clear cache". Plain Python (no torch), so the GUI can use it any time.

The cache holds one folder per backbone/weights/recipe (a 20-hex-digit name); a folder's
modification time is its last use. Only such folders are ever counted or deleted, so
pointing FLOWERSTUDIO_CACHE_DIR at a folder that holds other files is safe.
"""
from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from typing import Optional

from flowerstudio.core.foundation.filelock import locked

# 2 GiB holds about 800,000 photo-views of a 1280-wide float16 feature (efficientnet_lite0):
# far more than a desktop dataset needs, small next to the photos themselves.
DEFAULT_LIMIT_MB = 2048
LIMIT_ENV = "FLOWERSTUDIO_CACHE_MAX_MB"
_ENTRY = re.compile(r"^[0-9a-f]{20}$")


def default_cache_dir() -> Path:
    """$FLOWERSTUDIO_CACHE_DIR, else the per-user cache folder (platformdirs)."""
    env = os.environ.get("FLOWERSTUDIO_CACHE_DIR")
    if env:
        return Path(env)
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("FlowerStudio", appauthor=False)) / "features"


def cache_limit_bytes() -> int:
    """The size cap: $FLOWERSTUDIO_CACHE_MAX_MB (megabytes), else DEFAULT_LIMIT_MB."""
    try:
        mb = float(os.environ.get(LIMIT_ENV, DEFAULT_LIMIT_MB))
    except ValueError:
        mb = DEFAULT_LIMIT_MB
    return max(0, int(mb * 1024 * 1024))


def _entries(root: Path) -> list[Path]:
    try:
        with os.scandir(root) as it:
            return [Path(e.path) for e in it if _ENTRY.match(e.name) and e.is_dir(follow_symlinks=False)]
    except OSError:
        return []


def _size(folder: Path) -> int:
    total = 0
    for dirpath, _, files in os.walk(folder):
        for name in files:
            try:
                total += os.lstat(os.path.join(dirpath, name)).st_size
            except OSError:
                pass  # removed meanwhile
    return total


def cache_size_bytes(root: str | os.PathLike | None = None) -> int:
    """Bytes the feature cache takes on disk (for a "Clear cache (1.2 GB)" button)."""
    return sum(_size(f) for f in _entries(Path(root) if root else default_cache_dir()))


def mark_used(folder: Path) -> None:
    """Record a use of one cache folder (its modification time), for least-recently-used eviction."""
    try:
        os.utime(folder)
    except OSError:
        pass


def _remove(folder: Path) -> int:
    size = _size(folder)
    # Renamed first: a reader sees the whole folder or none of it, never half-deleted files.
    trash = folder.with_name(f".trash-{folder.name}-{os.getpid()}")
    try:
        os.rename(folder, trash)
    except OSError:
        return 0
    shutil.rmtree(trash, ignore_errors=True)
    return size


def evict(root: Path, keep: Optional[Path] = None, limit: Optional[int] = None) -> list[Path]:
    """Delete the least recently used cache folders (never ``keep``) until the cache fits ``limit``."""
    limit = cache_limit_bytes() if limit is None else limit
    removed: list[Path] = []
    with locked(root / ".evict.lock"):
        entries = [(f, _size(f)) for f in _entries(root)]
        total = sum(size for _, size in entries)
        by_age = sorted((e for e in entries if e[0] != keep), key=lambda e: _mtime(e[0]))
        for folder, size in by_age:
            if total <= limit:
                break
            _remove(folder)
            total -= size
            removed.append(folder)
    return removed


def _mtime(folder: Path) -> float:
    try:
        return folder.stat().st_mtime
    except OSError:
        return 0.0


def clear_cache(root: str | os.PathLike | None = None) -> int:
    """Delete every cached feature; returns the bytes freed. A run that needs them extracts them again."""
    root = Path(root) if root else default_cache_dir()
    if not root.is_dir():
        return 0
    with locked(root / ".evict.lock"):
        return sum(_remove(f) for f in _entries(root))
