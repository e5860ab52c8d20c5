"""Train page: settings on the left; the two training buttons, progress, live curves and the log on the right.

The first button trains the new layer; the second runs the next stage the core plans from the result
(core/training/plan.py: what to train, how deep, how long, at what rate, and what it costs here), or
the one the user chose under Advanced. The page shows what the core says; it decides nothing.
"""
from __future__ import annotations

import time
from typing import Optional

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QHBoxLayout, QLabel, QPushButton, QScrollArea, QSplitter, QVBoxLayout,
                               QWidget)

from flowerstudio.core.foundation.events import CheckpointSaved, RunStarted
from flowerstudio.core.foundation.vocab import TrainMode
from flowerstudio.gui import engine
from flowerstudio.gui.dialogs.lr_finder import LrFinderDialog, open_finder
from flowerstudio.gui.dialogs.server_export import ServerExportDialog
from flowerstudio.gui.jobs import Job, run_job
from flowerstudio.gui.pages.train_options import TrainOptions
from flowerstudio.gui.pages.train_progress import TrainProgress, next_button_text
from flowerstudio.gui.state import AppState
from flowerstudio.gui.style import error_html, esc
from flowerstudio.gui.widgets.thumbnails import ThumbnailCache

NO_DATA = "Choose a dataset on the Dataset page, then press Train."
FIRST = "Train the new layer (fast)"
FIRST_TIP = ("Step 1: keep the pretrained network as it is and train a new last layer for your classes "
             "(technically: the backbone stays frozen, only the head trains).")


class TrainPage(QWidget):
    """Runs the core trainer in the background and shows everything it reports."""

    training_done = Signal(object)  # core TrainResult
    preview_requested = Signal()  # "Preview augmentation": the Dataset page shows it

    def __init__(self, state: AppState, thumbs: ThumbnailCache, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        del thumbs  # one constructor shape for every page; this one shows no photos
        self.state = state
        self.task: Optional[Job] = None
        self.run_dir: Optional[str] = None
        self.best_path: Optional[str] = None
        self.advice = None  # core Advice after the last finished stage (its plan: what the second button runs)
        self._started = 0.0
        self._finished_text = ""
        self.lr_dialog: Optional[LrFinderDialog] = None

        self.options = TrainOptions(state)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(self.options)
        scroll.setMinimumWidth(320)
        self.options.changed.connect(self._update_buttons)
        self.options.lr_find_btn.clicked.connect(lambda: self.find_lr(fine_tune=False))
        self.options.ft_lr_find_btn.clicked.connect(lambda: self.find_lr(fine_tune=True))
        self.options.preview_btn.clicked.connect(self.preview_requested)

        self.train_btn = QPushButton(FIRST)
        self.train_btn.setToolTip(FIRST_TIP)
        self.finetune_btn = QPushButton("Train more")
        self.stop_btn = QPushButton("Stop")
        self.stop_btn.setToolTip("Stops within seconds; the best model so far is kept.")
        for b in (self.train_btn, self.finetune_btn):
            b.setMinimumHeight(34)
        self.train_btn.setStyleSheet("font-weight: bold;")
        self.train_btn.clicked.connect(self.start_training)
        self.finetune_btn.clicked.connect(self.start_next_stage)
        self.stop_btn.clicked.connect(self.stop)
        self.server_btn = QPushButton("Export run for a server…")
        self.server_btn.setToolTip("Write these settings and the command to train on a GPU server")
        self.server_btn.clicked.connect(self.export_for_server)
        buttons = QHBoxLayout()
        for b in (self.train_btn, self.finetune_btn, self.stop_btn):
            buttons.addWidget(b)
        buttons.addStretch(1)
        buttons.addWidget(self.server_btn)

        self.run_label = QLabel(NO_DATA)
        self.run_label.setWordWrap(True)
        self.run_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.progress = TrainProgress()
        right = QWidget()
        rl = QVBoxLayout(right)
        rl.setContentsMargins(0, 0, 0, 0)
        rl.addLayout(buttons)
        rl.addWidget(self.run_label)
        rl.addWidget(self.progress, 1)
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(scroll)
        split.addWidget(right)
        split.setStretchFactor(1, 1)
        split.setSizes([380, 900])
        QVBoxLayout(self).addWidget(split)
        state.scan_changed.connect(self._on_scan)
        state.model_changed.connect(self._on_model)
        state.runs_dir_changed.connect(lambda _d: self._on_scan(state.scan))
        self._update_buttons()

    # -- the window's page interface -------------------------------------------------------------
    def on_shown(self) -> None:
        """Nothing to load: the settings are read from the form when a run starts."""

    def save_settings(self) -> None:
        self.options.save()

    def is_busy(self) -> bool:
        return self.task is not None and self.task.running

    # -- the run in use ----------------------------------------------------------------------
    def _on_scan(self, scan) -> None:
        if scan is not None and not self.is_busy() and not self.best_path:
            self._offer_previous_run(scan.root)
        self._update_buttons()

    def _on_model(self, path: str) -> None:
        """Another model is in use (opened on Predict, a retrain): its run is the one the second button continues."""
        if self.is_busy() or path == self.best_path or not self.state.run_dir:
            return
        self._show_run(self.state.run_dir, path, "The run of the model in use")

    def _offer_previous_run(self, data_dir: str) -> None:
        """After a restart: the latest run on this dataset, so it can be continued (and used)."""
        from flowerstudio.core.runs.folders import previous_run  # small files only, no torch

        run = previous_run(self.state.runs_dir or None, data_dir)
        if run is not None and (run / "best.safetensors").is_file():
            self._show_run(str(run), str(run / "best.safetensors"), "Latest run on this dataset")
            if not self.state.model_path:
                self.state.set_model(self.best_path)

    def _show_run(self, run_dir: str, best: str, why: str) -> None:
        from flowerstudio.core.runs.folders import read_run

        summary = read_run(run_dir)
        self.run_dir, self.best_path, self.advice = run_dir, str(summary.best_path or best), None  # its own plan
        self.progress.show_history(summary.history, summary.log_text)
        self._finished_text = f"{why}: {esc(run_dir)}"
        self.run_label.setText(self._finished_text)
        if summary.history:
            self._ask_advice()
        self._update_buttons()

    # -- starting and stopping --------------------------------------------------------------
    def start_training(self) -> None:
        """Step 1: a new run with the backbone frozen."""
        if not self.state.has_dataset() or self.is_busy():
            return
        self.progress.reset()
        self.run_dir = self.best_path = self.advice = None
        config = self.options.config(self.state.scan.root)
        self._start("Training the new layer", config.epochs, engine.train, config)

    def next_plan(self):
        """What the second button runs: the user's choice under Advanced, else the core's plan for the run."""
        manual = self.options.manual_plan()
        if manual is not None:
            return manual
        return self.advice.plan if self.advice is not None else None

    def start_next_stage(self) -> None:
        """Step 2: the same run, as next_plan() says."""
        plan = self.next_plan()
        if not self.state.has_dataset() or self.is_busy() or not self.run_dir or plan is None:
            return
        # A new stage from the run's best model, or the stopped stage's last rounds (plan.finish): the core decides.
        self._start(plan.words()[0].upper() + plan.words()[1:], plan.epochs, engine.run_plan, self.run_dir, plan,
                    self.options.device_choice(), self.options.output_dir.text().strip())

    def _start(self, title: str, epochs: int, fn, *args) -> None:
        self._started = time.monotonic()
        self.progress.begin(title, epochs)
        self.run_label.setText(esc(title) + " …")
        self.task = run_job(fn, *args, title="Training", owner=self, on_event=self._on_event,
                            on_result=self._on_finished, on_error=self._on_failed,
                            on_cancelled=self._on_stopped, on_done=self._on_done)
        self._update_buttons()

    def stop(self) -> None:
        if self.is_busy():
            self.task.cancel()
            self.stop_btn.setEnabled(False)
            self.progress.stopping()
            self.state.set_status("Stopping training… the best model so far is kept")

    # -- learning-rate finder and server export ------------------------------------------------
    lr_finder_steps = 100  # test batches of the learning-rate finder

    def find_lr(self, fine_tune: bool = False) -> Optional[LrFinderDialog]:
        """Opens the learning-rate finder for the first step or the next stage; "Use" fills the field."""
        plan = self.next_plan() if fine_tune else None
        if not self.state.has_dataset() or self.is_busy() or (fine_tune and (plan is None or not self.run_dir)):
            return None
        config = engine.next_config(self.run_dir, plan) if fine_tune else self.options.config(self.state.scan.root)
        self.lr_dialog = open_finder(self, config, self.options.ft_lr if fine_tune else self.options.lr,
                                     self.lr_finder_steps, self._on_lr_closed)
        self._update_buttons()
        return self.lr_dialog

    def _on_lr_closed(self, dlg: LrFinderDialog) -> None:
        self.options.save()
        if self.lr_dialog is dlg:
            self.lr_dialog = None
        self._update_buttons()

    def export_for_server(self) -> Optional[ServerExportDialog]:
        """The current settings as files and commands for a GPU server: the first step, and the next stage."""
        if self.is_busy():
            return None
        from flowerstudio.core.training.plan import first_fine_tune, stage_config  # light: no torch

        first = self.options.config(self.state.dataset_root())
        scan = self.state.scan
        plan = self.next_plan() or first_fine_tune(scan.photos_per_class() if scan else 0, first.lr)
        dlg = ServerExportDialog(first, self, fine_tune=stage_config(first, plan, "best"))
        dlg.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dlg.open()
        return dlg

    def _update_buttons(self) -> None:
        busy, has_data = self.is_busy(), self.state.has_dataset()
        idle = has_data and not busy and self.lr_dialog is None
        plan = self.next_plan()
        self.train_btn.setEnabled(idle)
        self.finetune_btn.setEnabled(idle and bool(self.run_dir) and plan is not None)
        self.stop_btn.setEnabled(busy and not self.task.token.cancelled)
        self.options.lr_find_btn.setEnabled(idle)
        self.options.ft_lr_find_btn.setEnabled(idle and bool(self.run_dir) and plan is not None)
        self.server_btn.setEnabled(not busy)
        self.finetune_btn.setText(next_button_text(plan, self.advice))
        self.options.show_next(plan, self.advice)
        if not has_data and not busy:
            self.run_label.setText(NO_DATA)
        elif self.run_label.text() == NO_DATA:
            self.run_label.setText(f"Ready: press <b>{FIRST}</b>.")

    # -- events and results --------------------------------------------------------------------------
    def _on_event(self, ev) -> None:
        if isinstance(ev, RunStarted):
            self.run_dir = ev.run_dir
        elif isinstance(ev, CheckpointSaved) and ev.kind == "best":
            self.best_path = ev.path
        status = self.progress.on_event(ev)
        if status and not (self.task is not None and self.task.token.cancelled):
            self.state.set_status(status)

    def _on_finished(self, result, stopped: bool = False) -> None:
        self.run_dir = result.run_dir
        if result.best_path:
            self.best_path = result.best_path
        if result.history and len(result.history) != len(self.progress.curves.history):
            self.progress.curves.set_history(result.history)
        word = "stopped" if stopped else "finished"
        self._finished_text = self.progress.finished(result, word, time.monotonic() - self._started)
        self.run_label.setText(self._finished_text)
        if result.best_path:
            self.state.set_model(result.best_path)
            self._ask_advice()
        self.training_done.emit(result)

    def _on_stopped(self, partial) -> None:
        if partial is not None:  # stopped after the run folder existed: the best model so far is kept
            self._on_finished(partial, stopped=True)
        else:
            self.progress.end("stopped")
            self.run_label.setText("Stopped before the first round ended: nothing was kept.")

    def _ask_advice(self) -> None:
        """The result against guessing and the stage before, and the next step the data calls for (core)."""
        run_dir = self.run_dir
        run_job(engine.advice, run_dir, title="Reading the run", owner=self,
                on_result=lambda a, r=run_dir: self._show_advice(a, r))

    def _show_advice(self, advice, run_dir: str) -> None:
        if run_dir != self.run_dir or self.is_busy():
            return  # another run meanwhile
        self.advice = advice
        self.run_label.setText(f"{self._finished_text}<br>{esc(advice.result)}<br><b>Next:</b> {esc(advice.next_step)}")
        self._update_buttons()

    def _on_failed(self, message: str, details: str) -> None:
        from flowerstudio.gui import messages

        self.run_label.setText(error_html(f"Training failed: {esc(message)}"))
        self.progress.append(f"ERROR: {message}")
        messages.show_error(self, "Training failed", f"Training stopped because of an error:\n\n{message}", details)

    def _on_done(self) -> None:
        self.progress.aux_bar.setVisible(False)
        self.state.set_status("")
        self._update_buttons()

