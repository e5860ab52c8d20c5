"""Sort labelled photos into class folders. Never overwrites; deletes an original only on move."""
from __future__ import annotations

import errno
import os
import re
import shutil
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

UNCERTAIN = "_uncertain"
_UNSAFE = re.compile(r'[<>:"/\\|?*\x00-\x1f]')


@dataclass
class SortSummary:
    dest: str
    moved: bool
    counts: dict[str, int] = field(default_factory=dict)  # folder -> photos placed there
    renamed: int = 0  # photos given a new name because the name was taken
    errors: list[tuple[str, str]] = field(default_factory=list)

    def summary(self) -> str:
        verb = "Moved" if self.moved else "Copied"
        total = sum(self.counts.values())
        lines = [f"{verb} {total} photos into {len(self.counts)} folders in {self.dest}"]
        lines += [f"  {folder}: {n}" for folder, n in sorted(self.counts.items())]
        if self.renamed:
            lines.append(f"  {self.renamed} renamed to avoid overwriting existing files")
        if self.errors:
            lines.append(f"  {len(self.errors)} failed: " + "; ".join(f"{p} ({why})" for p, why in self.errors[:5]))
        return "\n".join(lines)


def folder_name(label: str) -> str:
    """A display name made safe as a folder name on every OS."""
    name = _UNSAFE.sub("_", label).strip().rstrip(".")
    return name or "_unnamed"


def _place(src: str, folder: Path, move: bool) -> tuple[Path, bool]:
    """Copy/move ``src`` into ``folder`` under a name nobody uses yet; returns (path, renamed)."""
    stem, ext = os.path.splitext(os.path.basename(src))
    n = 0
    while True:
        dst = folder / (f"{stem}{ext}" if n == 0 else f"{stem}_{n}{ext}")
        try:
            if move:
                try:
                    os.link(src, dst)  # fails if dst exists: no overwrite even in a race
                    os.unlink(src)
                    return dst, n > 0
                except OSError as exc:
                    if exc.errno == errno.EEXIST:
                        raise FileExistsError from exc
                    # other filesystem, or no hard links there: copy, then remove the original
            with open(src, "rb") as fin, open(dst, "xb") as fout:
                shutil.copyfileobj(fin, fout, 1 << 20)
            shutil.copystat(src, dst)
            if move:
                os.unlink(src)
            return dst, n > 0
        except FileExistsError:
            n += 1


def sort_into(predictions: Iterable, dest: str | os.PathLike, min_confidence: float = 0.6,
              move: bool = False) -> SortSummary:
    """Put each photo in ``dest/<label>/``, or ``dest/_uncertain/`` below ``min_confidence``.

    Copies unless ``move``; an existing file is never overwritten (the newcomer gets a
    numbered name). One failing photo is reported and the rest go on.
    """
    dest = Path(dest)
    summary = SortSummary(str(dest), move)
    counts: Counter = Counter()
    for p in predictions:
        folder = folder_name(p.name) if p.confidence >= min_confidence else UNCERTAIN
        try:
            (dest / folder).mkdir(parents=True, exist_ok=True)
            _, renamed = _place(p.path, dest / folder, move)
        except OSError as exc:
            summary.errors.append((p.path, exc.strerror or str(exc)))
            continue
        counts[folder] += 1
        summary.renamed += renamed
    summary.counts = dict(counts)
    return summary
