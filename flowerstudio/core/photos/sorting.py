"""Sort labelled photos into class folders. Never overwrites; deletes an original only on move.

Every photo makes at most one new file. A copy is written under a temporary name in the
target folder, fsynced, then renamed, so a full disk never leaves a truncated photo under
a real name. A move whose original cannot be removed (read-only share, file held open)
takes its new file back and is reported: the photo stays where it was, once.
"""
from __future__ import annotations

import os
import re
import shutil
import tempfile
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator, Optional, Sequence

from flowerstudio.core.foundation.atomic import remove_stale_temp_files, rename_no_replace
from flowerstudio.core.foundation.fsnames import display_path

UNCERTAIN = "_uncertain"
_UNSAFE = re.compile(r'[<>:"/\\|?*\x00-\x1f\x7f]')  # not allowed in a Windows file name (and / anywhere)
# Windows device names, also with an extension ("nul.txt"): such a folder cannot be made there.
_RESERVED = re.compile(r"^(con|prn|aux|nul|com[0-9¹²³]|lpt[0-9¹²³])(\..*)?$", re.IGNORECASE)
_MAX_NAME_BYTES = 200  # under every filesystem's 255-byte limit, with room for a "_N" suffix
_SHOWN_ERRORS = 10


@dataclass
class SortSummary:
    """What sort_into did. ``errors``: (photo path, reason) for each photo left where it was."""

    dest: str
    moved: bool
    counts: dict[str, int] = field(default_factory=dict)  # folder -> photos placed there
    renamed: int = 0  # photos given a new name because the name was taken
    errors: list[tuple[str, str]] = field(default_factory=list)
    placed: list[tuple[str, str]] = field(default_factory=list)  # (original, new file): what undo takes back
    made_folders: list[str] = field(default_factory=list)  # folders this sort created
    reviewed: int = 0  # photos placed by the label the user gave them, not by the model's guess
    marker: str = ""  # the app's marker file, when this sort wrote it (undo takes it back too)

    def failure_lines(self) -> list[str]:
        """'could not move X: reason', one per photo that was left where it was."""
        verb = "move" if self.moved else "copy"
        return [f"could not {verb} {display_path(p)}: {why}" for p, why in self.errors]

    def summary(self) -> str:
        verb = "Moved" if self.moved else "Copied"
        total = sum(self.counts.values())
        folders = len(self.counts)
        lines = [f"{verb} {total} photo{'s' * (total != 1)} into {folders} folder{'s' * (folders != 1)} in "
                 f"{self.dest}"]
        lines += [f"  {folder}: {n}" for folder, n in sorted(self.counts.items())]
        if self.reviewed:
            lines.append(f"  {self.reviewed} of them by the class you gave them in review")
        if self.renamed:
            lines.append(f"  {self.renamed} renamed to avoid overwriting existing files")
        failures = self.failure_lines()
        lines += [f"  {line}" for line in failures[:_SHOWN_ERRORS]]
        if len(failures) > _SHOWN_ERRORS:
            lines.append(f"  ... and {len(failures) - _SHOWN_ERRORS} more photos left where they were")
        return "\n".join(lines)


def folder_name(label: str) -> str:
    """A display name made into a folder name that is valid on Windows, macOS and Linux."""
    name = _UNSAFE.sub("_", unicodedata.normalize("NFC", label))
    name = name.strip(" ").rstrip(".")  # Windows drops trailing dots and spaces: "rose." would be "rose"
    if name.startswith("."):
        name = "_" + name[1:]  # a dot-folder would be hidden (and "." / ".." are not names at all)
    if _RESERVED.match(name):
        name = "_" + name
    raw = name.encode("utf-8", "surrogatepass")
    if len(raw) > _MAX_NAME_BYTES:
        name = raw[:_MAX_NAME_BYTES].decode("utf-8", "ignore").rstrip(" .")
    return name or "_unnamed"


def folder_names(labels: Sequence[str]) -> list[str]:
    """One folder per label, distinct even on case-insensitive filesystems, never UNCERTAIN.

    Labels that are valid folder names as they are keep them; the others ("a/b", "CON",
    a class called "_uncertain") get a made-safe name, with "_2", "_3"... when it is taken.
    """
    taken = {UNCERTAIN.casefold()}
    out = [""] * len(labels)
    as_is_first = sorted(range(len(labels)), key=lambda i: folder_name(labels[i]) != labels[i])
    for i in as_is_first:
        base = name = folder_name(labels[i])
        n = 1
        while name.casefold() in taken:
            n += 1
            name = f"{base}_{n}"
        taken.add(name.casefold())
        out[i] = name
    return out


def _candidates(src: str, folder: Path) -> Iterator[tuple[Path, bool]]:
    """x.jpg, x_1.jpg, x_2.jpg... in ``folder``, with whether the name was changed."""
    stem, ext = os.path.splitext(os.path.basename(src))
    n = 0
    while True:
        yield folder / (f"{stem}{ext}" if n == 0 else f"{stem}_{n}{ext}"), n > 0
        n += 1


def _copy(src: str, folder: Path) -> tuple[Path, bool]:
    """Copy to a temporary name in ``folder``, fsync, then rename to the first free name."""
    fd, tmp = tempfile.mkstemp(prefix=f".sorting.{os.getpid()}.", suffix=".part", dir=folder)
    try:
        with open(src, "rb") as fin, os.fdopen(fd, "wb") as fout:
            shutil.copyfileobj(fin, fout, 1 << 20)
            fout.flush()
            os.fsync(fout.fileno())
        try:
            shutil.copystat(src, tmp)  # dates and mode; some shares refuse, the photo is still whole
        except OSError:
            pass
        for dst, renamed in _candidates(src, folder):
            try:
                rename_no_replace(tmp, dst)
                return dst, renamed
            except FileExistsError:
                continue
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    raise AssertionError("unreachable")


def _remove_original_or_undo(src: str, dst: Path) -> None:
    """The move's last step: remove ``src``; when that fails, take ``dst`` back so one file remains."""
    try:
        os.unlink(src)
    except OSError as exc:
        reason = f"the original cannot be removed ({exc.strerror or exc})"
        try:
            os.unlink(dst)
        except OSError as undo:
            reason += f"; a copy also remains at {display_path(dst)} ({undo.strerror or undo})"
        raise OSError(exc.errno, reason) from exc


def place_photo(src: str, folder: Path, move: bool) -> tuple[Path, bool]:
    """Copy/move ``src`` into ``folder`` under a name nobody uses yet; returns (path, renamed)."""
    if move:
        for dst, renamed in _candidates(src, folder):
            try:
                os.link(src, dst)  # fails if dst exists: no overwrite even in a race
            except FileExistsError:
                continue
            except OSError:
                break  # another filesystem, or no hard links there: copy, then remove the original
            _remove_original_or_undo(src, dst)
            return dst, renamed
    dst, renamed = _copy(src, folder)
    if move:
        _remove_original_or_undo(src, dst)
    return dst, renamed


def destination(p, reviewed: dict[str, str], min_confidence: float) -> tuple[Optional[str], bool]:
    """(label, by review) for one prediction: the class the user gave it, else the model's if sure enough;
    label None: too unsure, it goes to UNCERTAIN."""
    if p.path in reviewed:
        return reviewed[p.path], True
    return (p.name if p.confidence >= min_confidence else None), False


def preview(predictions: Sequence, min_confidence: float, move: bool, dest: str | os.PathLike,
            reviewed: Optional[dict[str, str]] = None) -> str:
    """What sort_into will do, in a sentence, before it writes anything."""
    reviewed = reviewed or {}
    places = [destination(p, reviewed, min_confidence) for p in predictions]
    unsure = sum(label is None for label, _ in places)
    by_review = sum(r for _, r in places)
    verb = "Move" if move else "Copy"
    text = (f"{verb} {len(places)} photos into {len({label for label, _ in places})} folders in {display_path(dest)}: "
            f"{unsure} predicted with less than {100 * min_confidence:.0f} % confidence go to {UNCERTAIN}")
    if by_review:
        text += f"; {by_review} you reviewed go to the class you gave them"
    return text + ". Existing files are never overwritten."


def sort_into(predictions: Iterable, dest: str | os.PathLike, min_confidence: float = 0.6,
              move: bool = False, names: Optional[Sequence[str]] = None,
              reviewed: Optional[dict[str, str]] = None) -> SortSummary:
    """Put each photo in ``dest/<label>/``, or ``dest/_uncertain/`` below ``min_confidence``.

    ``reviewed``: photo path -> the display name of the class the user gave it: such a photo goes there,
    whatever the model's confidence. Copies unless ``move``; an existing file is never overwritten (the
    newcomer gets a numbered name). One failing photo is reported in ``errors`` and the rest go on.
    ``names``: all of the model's display names (``ModelInfo.display_names``), so a class gets the same
    folder whichever photos a run happens to sort.
    """
    from flowerstudio.core.photos.walk import MARKER, is_app_folder, mark_app_folder

    dest, reviewed = Path(dest), reviewed or {}
    predictions = list(predictions)
    labels = list(dict.fromkeys([*(names or ()), *sorted({p.name for p in predictions}), *sorted(reviewed.values())]))
    folders = dict(zip(labels, folder_names(labels)))
    summary = SortSummary(str(dest), move)
    counts: Counter = Counter()
    for p in predictions:
        label, by_review = destination(p, reviewed, min_confidence)
        folder = UNCERTAIN if label is None else folders[label]
        try:
            if not (dest / folder).is_dir():
                (dest / folder).mkdir(parents=True)
                summary.made_folders.append(str(dest / folder))
            elif folder not in counts:
                remove_stale_temp_files(dest / folder)  # what a sort killed mid-copy left there
            new, renamed = place_photo(p.path, dest / folder, move)
        except OSError as exc:
            summary.errors.append((p.path, exc.strerror or str(exc)))
            continue
        counts[folder] += 1
        summary.renamed += renamed
        summary.reviewed += by_review
        summary.placed.append((p.path, str(new)))
    if summary.placed and not is_app_folder(str(dest)):
        try:
            mark_app_folder(dest, "sorted")  # a dataset scan around it never takes it for a class
            summary.marker = str(dest / MARKER)
        except OSError:
            pass
    summary.counts = dict(counts)
    return summary
