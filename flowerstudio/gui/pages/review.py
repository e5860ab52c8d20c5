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
                            (self.outliers, "Outliers")):
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
        self.report = report
        names = dict(zip(report.classes, report.display_names))
        self.summary.setText(esc(report.summary()).replace("\n", "<br>"))
        self.labels.set_items([GalleryItem(i.path, f"{names[i.given]} → {names[i.suggested]}",
                                           f"score {i.score:.2f}", payload=i) for i in report.label_issues])
        self.duplicates.set_items([GalleryItem(d.path_a, f"{d.kind}{' · leak' if d.leak else ''}",
                                               f"similarity {d.similarity:.3f}", payload=d) for d in report.duplicates])
        self.outliers.set_items([GalleryItem(o.path, names.get(o.label, o.label), f"score {o.score:.1f}", payload=o)
                                 for o in report.outliers])
        for i, (view, title) in enumerate(((self.labels, "Wrong class?"), (self.duplicates, "Duplicates"),
                                           (self.outliers, "Outliers"))):
            self.tabs.setTabText(i, f"{title} ({view.gallery_model.rowCount()})")

    def _describe(self, view: FindingsView, item: Optional[GalleryItem]) -> None:
        if item is None or self.report is None:
            return
        f, names = item.payload, dict(zip(self.report.classes, self.report.display_names))
        if view is self.labels:
            view.text.setText(f"In <b>{esc(names[f.given])}</b> ({f.part}); looks like <b>{esc(names[f.suggested])}"
                              f"</b> ({100 * f.suggested_probability:.0f}% vs {100 * f.given_probability:.0f}%).")
            view.set_strip(0, f"Typical {esc(names[f.given])}:", self.report.typical.get(f.given, [])[:6])
            view.set_strip(1, f"Typical {esc(names[f.suggested])}:", self.report.typical.get(f.suggested, [])[:6])
            view.buttons[FixAction.MOVE].setText(f"Move to {names[f.suggested]} (M)")
        elif view is self.duplicates:
            view.text.setText(f"{esc(display_path(os.path.basename(f.path_a)))} ({f.part_a}) and its copy "
                              f"{esc(display_path(os.path.basename(f.path_b)))} ({f.part_b})"
                              + (": a <b>leak</b> — the same photo in training and validation" if f.leak else "."))
            view.set_strip(0, "The copy:", [f.path_b])
        else:
            view.text.setText(f"In <b>{esc(names.get(f.label, f.label))}</b> ({f.part}), unlike its neighbours "
                              f"(similarity {f.neighbour_similarity:.2f}).")

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
        self.summary.setText(f"{action.capitalize()}: {esc(display_path(item.path))}. Retrain to use the change.")

    def undo(self) -> None:
        self._queue_fix(self._start_undo)

    def _start_undo(self) -> Optional[Job]:
        if not self.done:
            return None
        action, root, record = self.done.pop()
        return run_job(engine.undo_fix, action, root, record, title="Undoing", owner=self,
                       on_result=lambda _r: self.summary.setText(
                           f"Undone: {action}. Press Find problems to list it again."),
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
