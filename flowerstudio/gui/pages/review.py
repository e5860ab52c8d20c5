"""Review page: what is wrong with the photos — likely in the wrong class folder, duplicates (and leaks
between training and validation), outliers — and one key to fix each: move, exclude, keep; undo."""
from __future__ import annotations

import os
from collections import deque
from typing import Callable, Optional

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QPushButton, QTabWidget, QVBoxLayout, QWidget

from flowerstudio.core.foundation.events import PhaseStarted, Progress
from flowerstudio.core.foundation.vocab import FixAction
from flowerstudio.core.foundation.fsnames import display_path
from flowerstudio.gui import engine, messages
from flowerstudio.gui.jobs import Job, run_job
from flowerstudio.gui.state import AppState
from flowerstudio.gui.style import error_html, esc
from flowerstudio.gui.widgets.findings import FindingsView
from flowerstudio.gui.widgets.gallery_model import GalleryItem
from flowerstudio.gui.widgets.thumbnails import ThumbnailCache

HINT = ("Press <b>Find problems</b>: the app looks for photos that are probably in the wrong class folder, "
        "copies of the same photo (and copies that leak from training into validation), and photos unlike "
        "all the others. Nothing is deleted: a photo is moved, or listed as excluded in "
        "<i>.flowerstudio/exclude.txt</i> inside the dataset folder.")


KEYS = {Qt.Key.Key_M: FixAction.MOVE, Qt.Key.Key_E: FixAction.EXCLUDE, Qt.Key.Key_K: FixAction.KEEP}
# The keys above for Help > Keyboard shortcuts.
KEY_HELP = [("M", "Move the photo to the class it looks like (the Wrong class? list)"),
            ("E", "Exclude the photo: training leaves it out; it stays on disk"),
            ("K", "Keep: the photo is fine, and is not listed again"),
            ("Ctrl+Z", "Undo the last move, exclusion or keep")]


class ReviewPage(QWidget):
    def __init__(self, state: AppState, thumbs: ThumbnailCache, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.state = state
        self.report = None  # core DoctorReport
        self.task: Optional[Job] = None
        # Fixes and undos run one at a time, in the order the keys were pressed: an undo pressed while a
        # fix is still running undoes that fix once it is recorded, not the one before it.
        self.fixing: Optional[Job] = None
        self._fixes: deque[Callable[[], Optional[Job]]] = deque()
        self.done: list[tuple[str, str, object]] = []  # (action, data_dir, record) for undo
        self.find_btn = QPushButton("Find problems")
        self.find_btn.setStyleSheet("font-weight: bold;")
        self.find_btn.clicked.connect(self.find)
        self.stop_btn = QPushButton("Stop")
        self.stop_btn.setEnabled(False)
        self.stop_btn.clicked.connect(lambda: self.task is not None and self.task.cancel())
        self.undo_btn = QPushButton("Undo (Ctrl+Z)")
        self.undo_btn.setEnabled(False)
        self.undo_btn.clicked.connect(self.undo)
        self.progress = QProgressBar()
        self.progress.setVisible(False)
        top = QHBoxLayout()
        for w in (self.find_btn, self.stop_btn, self.undo_btn):
            top.addWidget(w)
        top.addWidget(self.progress, 1)
        self.summary = QLabel(HINT)
        self.summary.setWordWrap(True)
        self.labels = FindingsView(thumbs, [(FixAction.MOVE, "Move to suggested (M)"),
                                            (FixAction.EXCLUDE, "Exclude (E)"), (FixAction.KEEP, "Keep (K)")], strips=2)
        self.duplicates = FindingsView(thumbs, [(FixAction.EXCLUDE, "Exclude this copy (E)"),
                                                (FixAction.KEEP, "Keep both (K)")], strips=1)
        self.outliers = FindingsView(thumbs, [(FixAction.EXCLUDE, "Exclude (E)"), (FixAction.KEEP, "Keep (K)")])
        self.tabs = QTabWidget()
        for view, title in ((self.labels, "Wrong class?"), (self.duplicates, "Duplicates"),
                            (self.outliers, "Unusual photos")):
            self.tabs.addTab(view, title)
            view.acted.connect(lambda key, item, v=view: self.act(v, key, item))
            view.selected.connect(lambda item, v=view: self._describe(v, item))
        lay = QVBoxLayout(self)
        lay.addLayout(top)
        lay.addWidget(self.summary)
        lay.addWidget(self.tabs, 1)
        # The keys act on the list that has the focus (a shortcut would also need the window active, and a
        # list view would otherwise take the letters for its own type-to-find).
        for view in (self.labels, self.duplicates, self.outliers):
            view.view.installEventFilter(self)
        state.scan_changed.connect(lambda _s: self._forget())

    # -- the window's page interface -------------------------------------------------------------
    def on_shown(self) -> None:
        self.find_btn.setEnabled(self.state.has_dataset() and not self.is_busy())

    def save_settings(self) -> None:
        """Decisions are written into the dataset folder as they are made."""

    def is_busy(self) -> bool:
        return self.task is not None and self.task.running

    # -- finding ------------------------------------------------------------------------------------
    def find(self) -> None:
        if not self.state.has_dataset() or self.is_busy():
            return
        from flowerstudio.core.foundation.config import TrainConfig

        cfg = TrainConfig(backbone=self.state.backbone, input_size=self.state.input_size)
        self.progress.setVisible(True)
        self.progress.setRange(0, 0)
        self.find_btn.setEnabled(False)
        self.stop_btn.setEnabled(True)
        self.summary.setText("Looking at every photo (the first time reads them all; later it takes seconds)…")
        root = self.state.scan.root
        self.task = run_job(engine.diagnose, root, cfg, self.state.split_run(root), title="Finding problems",
                            owner=self, on_event=self._on_event, on_result=self._show, on_done=self._after)

    def _on_event(self, ev) -> None:
        if isinstance(ev, (PhaseStarted, Progress)) and ev.total:
            self.progress.setRange(0, ev.total)
            self.progress.setValue(getattr(ev, "done", 0))

    def _after(self) -> None:
        self.progress.setVisible(False)
        self.stop_btn.setEnabled(False)
        self.find_btn.setEnabled(self.state.has_dataset())

    def _show(self, report) -> None:
        """The findings in plain words: "80% sure", "99% alike", the file name (technical scores stay in the CSVs)."""
        self.report = report
        names = dict(zip(report.classes, report.display_names))
        self.summary.setText(esc(report.summary()).replace("\n", "<br>"))
        self.labels.set_items([GalleryItem(
            i.path, f"{names[i.given]} →", f"{names[i.suggested]} ({100 * i.suggested_probability:.0f}%)", payload=i,
            tooltip=f"{_file(i.path)}\nIn {names[i.given]}; looks like {names[i.suggested]} — how sure the check is: "
                    f"{100 * i.suggested_probability:.0f}%") for i in report.label_issues])
        self.duplicates.set_items([GalleryItem(
            d.path_a, f"{d.kind} copy{' · leak' if d.leak else ''}", f"{100 * d.similarity:.0f}% alike", payload=d,
            tooltip=f"{_file(d.path_a)} and {_file(d.path_b)}") for d in report.duplicates])
        self.outliers.set_items([GalleryItem(o.path, names.get(o.label, o.label), _file(o.path), payload=o)
                                 for o in report.outliers])
        for i, (view, title) in enumerate(((self.labels, "Wrong class?"), (self.duplicates, "Duplicates"),
                                           (self.outliers, "Unusual photos"))):
            self.tabs.setTabText(i, f"{title} ({view.gallery_model.rowCount()})")

    def _describe(self, view: FindingsView, item: Optional[GalleryItem]) -> None:
        if item is None or self.report is None:
            return
        f, names = item.payload, dict(zip(self.report.classes, self.report.display_names))
        if view is self.labels:
            view.text.setText(f"<b>{esc(_file(f.path))}</b> is in <b>{esc(names[f.given])}</b> ({_part(f.part)}) "
                              f"but looks like <b>{esc(names[f.suggested])}</b>. How sure the check is: "
                              f"{100 * f.suggested_probability:.0f}% {esc(names[f.suggested])}, "
                              f"{100 * f.given_probability:.0f}% {esc(names[f.given])}.")
            view.set_strip(0, f"Typical {esc(names[f.given])}:", self.report.typical.get(f.given, [])[:6])
            view.set_strip(1, f"Typical {esc(names[f.suggested])}:", self.report.typical.get(f.suggested, [])[:6])
            view.buttons[FixAction.MOVE].setText(f"Move to {names[f.suggested]} (M)")
        elif view is self.duplicates:
            view.text.setText(f"<b>{esc(_file(f.path_a))}</b> ({_part(f.part_a)}) and its copy "
                              f"<b>{esc(_file(f.path_b))}</b> ({_part(f.part_b)}), {100 * f.similarity:.0f}% alike"
                              + (": a <b>leak</b> — the same photo in training and validation" if f.leak else "."))
            view.set_strip(0, "The copy:", [f.path_b])
        else:
            view.text.setText(f"<b>{esc(_file(f.path))}</b> in <b>{esc(names.get(f.label, f.label))}</b> "
                              f"({_part(f.part)}) is unlike the other photos: the most alike are only "
                              f"{100 * f.neighbour_similarity:.0f}% alike.")

    # -- fixing ---------------------------------------------------------------------------------------
    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() != QEvent.Type.KeyPress:
            return False
        if event.matches(QKeySequence.StandardKey.Undo):
            self.undo()
            return True
        view = self.tabs.currentWidget()
        action = KEYS.get(event.key())
        item = view.current()
        if action is None or item is None or action not in view.buttons or watched is not view.view:
            return False
        self.act(view, action, item)
        return True

    def act(self, view: FindingsView, action: str, item: GalleryItem) -> None:
        from flowerstudio.core.foundation.vocab import Finding

        f, root = item.payload, self.state.scan.root
        kind = {id(self.labels): Finding.LABEL, id(self.duplicates): Finding.DUPLICATE}.get(id(view), Finding.OUTLIER)
        paths = [f.path_a, f.path_b] if kind == Finding.DUPLICATE and action == FixAction.KEEP else [item.path]
        self._queue_fix(lambda: run_job(
            engine.fix, action, root, paths, getattr(f, "suggested", ""), str(kind), title="Changing the dataset",
            owner=self, on_result=lambda record: self._fixed(view, item, action, root, record),
            on_error=lambda message, _d: self.summary.setText(error_html(esc(message))),
            on_done=self._next_fix))

    def _fixed(self, view: FindingsView, item: GalleryItem, action: str, root: str, record) -> None:
        view.remove(item)
        self.done.append((action, root, record))
        retrain = "" if action == FixAction.KEEP else " Retrain to use the change."  # a keep changes no photo
        self.summary.setText(esc(done_words(action, root, item.path, record)) + retrain)

    def undo(self) -> None:
        self._queue_fix(self._start_undo)

    def _start_undo(self) -> Optional[Job]:
        if not self.done:
            return None
        action, root, record = self.done.pop()
        return run_job(engine.undo_fix, action, root, record, title="Undoing", owner=self,
                       on_result=lambda _r: self.summary.setText(esc(undone_words(action, root, record))),
                       on_error=lambda message, _d: messages.show_error(self, "Cannot undo", message),
                       on_done=self._next_fix)

    def fixes_running(self) -> bool:
        return bool(self._fixes) or (self.fixing is not None and self.fixing.running)

    def _queue_fix(self, start: Callable[[], Optional[Job]]) -> None:
        self._fixes.append(start)
        self._next_fix()

    def _next_fix(self) -> None:
        """Start the next queued fix or undo unless one is running; the button follows."""
        while self._fixes and not (self.fixing is not None and self.fixing.running):
            self.fixing = self._fixes.popleft()()
        self.undo_btn.setEnabled(bool(self.done) and not self.fixes_running())

    def _forget(self) -> None:
        """Another dataset: its findings are gone, but its moves (logged in the dataset folder) can still be
        undone, after a restart too."""
        self.report = None
        root = self.state.dataset_root()
        self.done = [(FixAction.MOVE, root, record) for record in engine.recorded_moves(root)] if root else []
        for view in (self.labels, self.duplicates, self.outliers):
            view.set_items([])
        self.summary.setText(HINT)
        self.undo_btn.setEnabled(bool(self.done))
        self.find_btn.setEnabled(self.state.has_dataset())


def _part(part: str) -> str:
    return {"train": "training", "val": "validation"}.get(str(part), str(part))


def _file(path: str) -> str:
    return display_path(os.path.basename(path))


def done_words(action: str, root: str, path: str, record) -> str:
    """What a fix did, in a sentence: "Moved x.jpg to train/rose/." """
    if action == FixAction.MOVE:
        folder = os.path.relpath(os.path.dirname(record.dest), root).replace(os.sep, "/")
        return f"Moved {_file(record.dest)} to {display_path(folder)}/."
    if action == FixAction.EXCLUDE:
        return f"Excluded {_file(path)}: training leaves it out (it stays on disk; see .flowerstudio/exclude.txt)."
    return f"Kept {_file(path)}: it is not listed again."


def undone_words(action: str, root: str, record) -> str:
    """What an undo did, in a sentence: "Undone: x.jpg is back in train/daisy/." """
    if action == FixAction.MOVE:
        folder = os.path.relpath(os.path.dirname(record.source), root).replace(os.sep, "/")
        return f"Undone: {_file(record.source)} is back in {display_path(folder)}/."
    paths = record[1] if action == FixAction.KEEP else record
    name = _file(paths[0]) if paths else "the photo"
    if action == FixAction.EXCLUDE:
        return f"Undone: {name} is no longer excluded."
    return f"Undone: {name} is no longer kept; Find problems lists it again."
