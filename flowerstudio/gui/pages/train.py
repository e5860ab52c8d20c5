"""Train page: settings on the left; the two training buttons, progress, live curves and the log on the right."""
from __future__ import annotations

import os
import time
from typing import Optional

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QDialog, QHBoxLayout, QLabel, QPushButton, QScrollArea, QSplitter, QVBoxLayout,
                               QWidget)

from flowerstudio.core.foundation.events import CheckpointSaved, RunStarted
from flowerstudio.core.foundation.vocab import TrainMode
from flowerstudio.gui import engine
from flowerstudio.gui.dialogs.lr_finder import LrFinderDialog
from flowerstudio.gui.dialogs.server_export import ServerExportDialog
from flowerstudio.gui.jobs import Job, Outcome, run_job
from flowerstudio.gui.pages.train_options import TrainOptions
from flowerstudio.gui.pages.train_progress import TrainProgress
from flowerstudio.gui.state import AppState
from flowerstudio.gui.style import error_html, fmt_duration
from flowerstudio.gui.widgets.thumbnails import ThumbnailCache

DEPTH_WORDS = {TrainMode.FROZEN: "head only", TrainMode.LAST_STAGES: "last stages", TrainMode.ALL: "all layers"}
NO_DATA = "Choose a dataset on the Dataset page, then press Train."


class TrainPage(QWidget):
    """Runs the core trainer in the background and shows everything it reports."""

    training_done = Signal(object)  # core TrainResult
    preview_requested = Signal()  # "Preview augmentation": the Dataset page shows it

    def __init__(self, state: AppState, thumbs: ThumbnailCache, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        del thumbs  # one constructor shape for every page; this one shows no photos
        self.state = state
        self.task: Optional[Job] = None
        self.config = None  # the TrainConfig of the stage running or last run
        self.run_dir: Optional[str] = None
        self.best_path: Optional[str] = None
        self._started = 0.0
        self._finished_text = ""
        self.advice = None  # core Advice after the last finished stage
        self.lr_dialog: Optional[LrFinderDialog] = None
        self.server_dialog: Optional[ServerExportDialog] = None

        self.options = TrainOptions(state)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(self.options)
        scroll.setMinimumWidth(320)
        self.options.changed.connect(self._update_buttons)
        self.options.lr_find_btn.clicked.connect(lambda: self.find_lr(fine_tune=False))
        self.options.ft_lr_find_btn.clicked.connect(lambda: self.find_lr(fine_tune=True))
        self.options.preview_btn.clicked.connect(self.preview_requested)

        self.train_btn = QPushButton("Train classifier (backbone frozen)")
        self.train_btn.setToolTip("Step 1: keep the pretrained backbone as it is and train a new final layer.")
        self.finetune_btn = QPushButton("Fine-tune all layers (unfreeze)")
        self.finetune_btn.setToolTip("Step 2: continue from the best checkpoint of this run with a lower learning rate.")
        self.stop_btn = QPushButton("Stop")
        self.stop_btn.setToolTip("Stops within a batch; the best checkpoint so far is kept.")
        for b in (self.train_btn, self.finetune_btn):
            b.setMinimumHeight(34)
        self.train_btn.setStyleSheet("font-weight: bold;")
        self.train_btn.clicked.connect(self.start_training)
        self.finetune_btn.clicked.connect(self.start_fine_tune)
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
        lay = QVBoxLayout(self)
        lay.addWidget(split)
        state.scan_changed.connect(self._on_scan)
        state.runs_dir_changed.connect(lambda _d: self._on_scan(state.scan))
        self._update_buttons()

    # -- the window's page interface -------------------------------------------------------------
    def on_shown(self) -> None:
        """Nothing to load: the settings are read from the form when a run starts."""

    def save_settings(self) -> None:
        self.options.save()

    def is_busy(self) -> bool:
        return self.task is not None and self.task.running

    # -- a run from before ---------------------------------------------------------------------
    def _on_scan(self, scan) -> None:
        self.options.advised = None  # advice belongs to the dataset it was given for
        self.options.update_depth()
        if scan is not None and not self.is_busy() and not self.best_path:
            self._offer_previous_run(scan.root)
        self._update_buttons()

    def _offer_previous_run(self, data_dir: str) -> None:
        """After a restart: show the latest run on this dataset, so it can be fine-tuned."""
        from flowerstudio.core.runs.folders import previous_run, read_run  # small files only, no torch

        run = previous_run(self.state.runs_dir or None, data_dir)
        if run is None:
            return
        summary = read_run(run)
        if summary.best_path is None:
            return
        self.run_dir, self.best_path = str(run), str(summary.best_path)
        self.progress.show_history(summary.history, summary.log_text)
        self.run_label.setText(f"Latest run on this dataset: {run}<br>Fine-tune it, or train a new one.")

    # -- starting and stopping --------------------------------------------------------------
    def start_training(self) -> None:
        """Step 1: a new run with the backbone frozen."""
        if not self.state.has_dataset() or self.is_busy():
            return
        self.progress.reset()
        self.run_dir = self.best_path = None
        self._start(self.options.config(self.state.scan.root, "frozen"), "Training the classifier (backbone frozen)")

    def start_fine_tune(self) -> None:
        """Step 2: same run, from its best checkpoint, more layers trainable, lower learning rate."""
        if not self.state.has_dataset() or self.is_busy() or not self.best_path:
            return
        mode = self.options.fine_tune_mode()
        # On Automatic the advice decides how long too ("Train 10 more epochs").
        follow = self.advice is not None and self.options.follows_data() and self.options.advised is not None
        epochs = self.advice.epochs if follow else None
        self._start(self.options.config(self.state.scan.root, mode, resume_from=self.best_path, epochs=epochs),
                    f"Fine-tuning ({DEPTH_WORDS.get(mode, mode)}) from {os.path.basename(self.best_path)}")

    def _start(self, config, title: str) -> None:
        self.config = config
        self._started = time.monotonic()
        self.progress.begin(f"{title}: {config.backbone}, {config.epochs} epochs, lr {config.lr:g}, "
                            f"batch {config.batch_size}, {config.input_size}px, device {config.device}", config.epochs)
        self.run_label.setText(title + " …")
        self.task = run_job(engine.train, config, title="Training", owner=self, on_event=self._on_event,
                            on_result=self._on_finished, on_error=self._on_failed, on_done=self._on_done)
        self._update_buttons()

    def stop(self) -> None:
        if self.is_busy():
            self.task.cancel()
            self.stop_btn.setEnabled(False)
            self.progress.stopping()

    # -- learning-rate finder and server export ------------------------------------------------
    lr_finder_steps = 100  # test batches of the learning-rate finder

    def find_lr(self, fine_tune: bool = False) -> Optional[LrFinderDialog]:
        """Opens the learning-rate finder for the first step or the fine-tune step; "Use" fills the field."""
        if not self.state.has_dataset() or self.is_busy() or (fine_tune and not self.best_path):
            return None
        root = self.state.scan.root
        if fine_tune:
            config = self.options.config(root, self.options.fine_tune_mode(), resume_from=self.best_path)
        else:
            config = self.options.config(root, "frozen")
        field = self.options.ft_lr if fine_tune else self.options.lr
        dlg = LrFinderDialog(config, self, num_steps=self.lr_finder_steps)
        dlg.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dlg.finished.connect(lambda code, d=dlg, f=field: self._on_lr_found(code, d, f))
        self.lr_dialog = dlg
        self._update_buttons()
        dlg.open()  # window-modal, without a nested event loop
        return dlg

    def _on_lr_found(self, code: int, dlg: LrFinderDialog, field) -> None:
        lr = dlg.suggested_lr
        if code == QDialog.DialogCode.Accepted and lr:
            field.setValue(lr)
            self.options.save()
        if self.lr_dialog is dlg:
            self.lr_dialog = None
        self._update_buttons()

    def export_for_server(self) -> Optional[ServerExportDialog]:
        """The current settings as files and commands for a GPU server: the first step, and the fine-tune
        step when the settings call for one."""
        if self.is_busy():
            return None
        root = self.state.dataset_root()
        mode = self.options.fine_tune_mode()
        tune = self.options.config(root, mode, resume_from="best") if mode != "frozen" else None
        dlg = ServerExportDialog(self.options.config(root, "frozen"), self, fine_tune=tune)
        dlg.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dlg.destroyed.connect(lambda _=None: setattr(self, "server_dialog", None))
        self.server_dialog = dlg
        dlg.open()
        return dlg

    def _update_buttons(self) -> None:
        busy = self.is_busy()
        has_data = self.state.has_dataset()
        finding = self.lr_dialog is not None
        idle = has_data and not busy and not finding
        self.train_btn.setEnabled(idle)
        self.finetune_btn.setEnabled(idle and bool(self.best_path))
        self.stop_btn.setEnabled(busy)
        self.options.lr_find_btn.setEnabled(idle)
        self.options.ft_lr_find_btn.setEnabled(idle and bool(self.best_path))
        self.server_btn.setEnabled(not busy)
        mode, stages = self.options.fine_tune_setup()
        text = {"all": "Fine-tune all layers (unfreeze)", "last_stages": f"Fine-tune last {stages} stages (unfreeze)",
                "frozen": "Continue training the head"}.get(mode, "Fine-tune")
        self.finetune_btn.setText(text)
        if not has_data and not busy:
            self.run_label.setText(NO_DATA)
        elif self.run_label.text() == NO_DATA:
            self.run_label.setText("Ready: press <b>Train classifier</b>.")

    # -- events from the engine ------------------------------------------------------------------
    def _on_event(self, ev) -> None:
        if isinstance(ev, RunStarted):
            self.run_dir = ev.run_dir
        elif isinstance(ev, CheckpointSaved) and ev.kind == "best":
            self.best_path = ev.path
        status = self.progress.on_event(ev)
        if status:
            self.state.set_status(status)

    def _on_finished(self, result) -> None:
        self.run_dir = result.run_dir
        if result.best_path:
            self.best_path = result.best_path
        if result.history and len(result.history) != len(self.progress.curves.history):
            self.progress.curves.set_history(result.history)
        took = fmt_duration(time.monotonic() - self._started)
        word = "finished" if result.status == "completed" else "stopped"
        self._finished_text = (f"Run {word} after {took}. Best validation accuracy "
                               f"<b>{100 * result.best_val_acc:.1f}%</b> at epoch {result.best_epoch}.")
        self._advise(result.history)
        if result.best_path:
            # Which classes get mixed up sharpens the advice: a quick check on the validation photos.
            run_job(engine.evaluate, result.best_path, self.state.scan.root, "val", title="Checking mix-ups",
                    owner=self, on_result=lambda report: self._advise(result.history, report),
                    on_error=lambda _m, _d: None)
        self.progress.end(word)
        self.progress.append(f"== Run {word}. Best val acc {100 * result.best_val_acc:.1f}% "
                             f"(epoch {result.best_epoch}).")
        if result.best_path:
            self.state.set_model(result.best_path)
        self.training_done.emit(result)

    def _advise(self, history, report=None) -> None:
        """The result against guessing and the stage before, and the next step the data calls for."""
        from flowerstudio.core.training.plan import NextStep, advise, most_confused

        if not history or self.state.scan is None:
            self.run_label.setText(self._finished_text)
            return
        confused = most_confused(report.confusion, report.display_names) if report is not None else None
        advice = advise(history, len(self.state.scan.classes), self.options.photos_per_class(), confused)
        self.advice = advice
        if advice.step in (NextStep.TRAIN_MORE, NextStep.FINE_TUNE):
            self.options.advised = (str(advice.mode), advice.stages)
        self.options.update_depth()  # the second button and its hint follow the advice (on Automatic)
        self.run_label.setText(f"{self._finished_text}<br>{advice.result}<br><b>Next:</b> {advice.next_step}")

    def _on_failed(self, message: str, details: str) -> None:
        from flowerstudio.gui import messages

        self.run_label.setText(error_html(f"Training failed: {message}"))
        self.progress.append(f"ERROR: {message}")
        messages.show_error(self, "Training failed", f"Training stopped because of an error:\n\n{message}", details)

    def _on_done(self) -> None:
        self.progress.aux_bar.setVisible(False)
        self.state.set_status("")
        self._update_buttons()
        if self.task is not None and self.task.outcome is Outcome.CANCELLED:
            self.progress.end("stopped")
