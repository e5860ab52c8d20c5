"""The feature cache's files: rows of features keyed by photo, in segment files written as extraction goes.

One folder per entry (photos of one view, on one device type and dtype). Each write adds a segment
(``seg-<pid>-<n>.safetensors``, written atomically), so a kill or a full disk keeps every segment
already written, and two runs writing at once never lose each other's rows. Every row carries a CRC32
of its bytes: a row whose bytes changed on disk, or that holds a number that is not finite, is dropped
and extracted again, never used. When segments pile up they are merged into one, under a lock.

The cache is only a speed-up: ``SegmentStore`` never raises for the disk. A read it cannot do gives no
rows; a write it cannot do is reported once through ``warn`` and training goes on without it.
"""
from __future__ import annotations

import json
import os
import zlib
from itertools import count
from pathlib import Path
from typing import Callable, Optional, Sequence

import torch

from flowerstudio.core.foundation.atomic import atomic_write_bytes, remove_stale_temp_files
from flowerstudio.core.foundation.cachedisk import cache_limit_bytes, mark_used
from flowerstudio.core.foundation.errors import describe
from flowerstudio.core.foundation.filelock import locked

MERGE_AFTER = 8  # segments; reading many small files costs more than one merge
_counter = count()


def row_sum(row: torch.Tensor) -> int:
    return zlib.crc32(row.contiguous().view(torch.uint8).numpy().tobytes())


class SegmentStore:
    """The rows of one cache entry folder. ``key``: the cache key the files must carry to be trusted."""

    def __init__(self, folder: Path, key: str, warn: Callable[[str], None]) -> None:
        self.folder, self.key, self._warn = folder, key, warn
        self._failed = False

    def _segments(self) -> list[Path]:
        try:
            return sorted(self.folder.glob("seg-*.safetensors"))
        except OSError:
            return []

    def read(self) -> dict[str, torch.Tensor]:
        """Every trusted row: id -> features. Damaged segments and rows are left out (extracted again)."""
        rows: dict[str, torch.Tensor] = {}
        for seg in self._segments():
            rows.update(self._read_segment(seg))
        if rows:
            mark_used(self.folder.parent)
        return rows

    def _read_segment(self, path: Path) -> dict[str, torch.Tensor]:
        from safetensors import SafetensorError, safe_open

        try:
            with safe_open(str(path), framework="pt") as fh:
                meta = fh.metadata() or {}
                if meta.get("key") != self.key:
                    return {}
                ids, sums = json.loads(meta["ids"]), json.loads(meta["sums"])
                feats = fh.get_tensor("features")
        except (OSError, SafetensorError, ValueError, KeyError, TypeError):
            return {}  # a file cut short or foreign: its rows are extracted again
        if not (isinstance(ids, list) and isinstance(sums, list) and len(ids) == len(sums) == feats.shape[0]):
            return {}
        finite = torch.isfinite(feats).all(1).tolist()
        return {i: f for i, s, f, ok in zip(ids, sums, feats, finite) if ok and row_sum(f) == s}

    def add(self, rows: dict[str, torch.Tensor]) -> None:
        """Write ``rows`` as a new segment (a no-op once the disk has refused: said once, then quiet)."""
        if not rows or self._failed:
            return
        from safetensors.torch import save

        ids = list(rows)
        feats = torch.stack([rows[i] for i in ids]).contiguous()
        meta = {"key": self.key, "ids": json.dumps(ids), "sums": json.dumps([row_sum(f) for f in feats])}
        name = f"seg-{os.getpid()}-{next(_counter):06d}-{os.urandom(3).hex()}.safetensors"
        try:
            atomic_write_bytes(self.folder / name, save({"features": feats}, metadata=meta))
        except OSError as exc:
            self._give_up(exc)

    def tidy(self, needed: Sequence[str]) -> None:
        """Merge the segments into one when there are many, or when the entry is past the size cap
        (then only the ``needed`` rows are kept). Temporary files of killed writes are removed."""
        if self._failed:
            return
        try:
            with locked(self.folder / "merge.lock"):
                remove_stale_temp_files(self.folder)
                segments = self._segments()
                size = sum(p.stat().st_size for p in segments)
                over = size > cache_limit_bytes()
                if len(segments) <= MERGE_AFTER and not over:
                    return
                rows: dict[str, torch.Tensor] = {}
                for seg in segments:
                    rows.update(self._read_segment(seg))
                if over:
                    rows = {k: rows[k] for k in needed if k in rows}
                self.add(rows)
                if self._failed:
                    return  # the merged segment is not on disk: keep the ones it was made of
                for seg in segments:
                    seg.unlink(missing_ok=True)
        except OSError as exc:
            self._give_up(exc)

    def _give_up(self, exc: OSError) -> None:
        if not self._failed:
            self._failed = True
            self._warn(f"The feature cache cannot be written ({describe(exc)}); training goes on without it, "
                       "and the next run extracts these photos again.")

    @property
    def failed(self) -> bool:
        return self._failed


def optional_folder(folder: Path, warn: Callable[[str], None]) -> Optional[Path]:
    """``folder``, made if needed; None (said once through ``warn``) when the disk refuses."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        return folder
    except OSError as exc:
        warn(f"The feature cache folder cannot be used ({describe(exc)}); going on without it.")
        return None
