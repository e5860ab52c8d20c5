"""Train page: settings on the left; buttons, progress, live curves and the log on the right."""
from __future__ import annotations

import os
import time
from typing import Optional

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (QDialog, QGridLayout, QHBoxLayout, QLabel, QPlainTextEdit, QProgressBar,
                               QPushButton, QScrollArea, QSplitter, QVBoxLayout, QWidget)

from flowerstudio.core.events import (BadImage, CheckpointSaved, EpochEnd, Log, PhaseStarted,
                                      Progress, RunStarted)
from flowerstudio.gui import dialogs
from flowerstudio.gui.curves import STAGE_NAMES, TrainingCurves
from flowerstudio.gui.lr_finder_dialog import LrFinderDialog
from flowerstudio.gui.server_export_dialog import ServerExportDialog
from flowerstudio.gui.state import AppState
from flowerstudio.gui.train_options import TrainOptions
from flowerstudio.gui.worker import Task, import_heavy

PHASE_TITLES = {"download": "Downloading pretrained weights", "extract": "Extracting features",
                "scan": "Checking photos", "train": "Training", "validate": "Validating",
                "predict": "Predicting"}


def run_training(config, callback=None, cancel=None):
    import_heavy()
    from flowerstudio.core.trainer import train

    return train(config, callback=callback, cancel=cancel)


DEPTH_WORDS = {"frozen": "head only", "last_stages": "last stages", "all": "all layers"}


def previous_run(output_dir: str, data_dir: str):
    """The latest run folder trained on ``data_dir``, if any (reads small files only)."""
    import json

    from flowerstudio.core.runs import latest_run

    run = latest_run(output_dir or None)
    if run is None:
        return None
    try:
        cfg = json.loads((run / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    same = os.path.normcase(os.path.abspath(cfg.get("data_dir", ""))) == os.path.normcase(os.path.abspath(data_dir))
    return run if same else None


def fmt_eta(seconds: Optional[float]) -> str:
    if seconds is None:
        return ""
    seconds = int(round(seconds))
    if seconds >= 3600:
        return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min left"
    if seconds >= 60:
        return f"{seconds // 60} min {seconds % 60:02d} s left"
    return f"{seconds} s left"


class TrainPage(QWidget):
    """Runs the core trainer in the background and shows everything it reports."""

    training_done = Signal(object)  # core TrainResult

    def __init__(self, state: AppState, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.state = state
        self.task: Optional[Task] = None
        self.result = None
        self.run_dir: Optional[str] = None
        self.best_path: Optional[str] = None
        self._epochs_total = 0
        self._epoch_offset = 0
        self._started = 0.0
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
        buttons.addWidget(self.train_btn)
        buttons.addWidget(self.finetune_btn)
        buttons.addWidget(self.stop_btn)
        buttons.addStretch(1)
        buttons.addWidget(self.server_btn)

        self.run_label = QLabel("Choose a dataset on the Dataset page, then press Train.")
        self.run_label.setWordWrap(True)
        self.run_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.epoch_label = QLabel("Epoch: –")
        self.best_label = QLabel("Best validation accuracy: –")
        self.phase_label = QLabel("")
        self.batch_bar = QProgressBar()
        self.batch_bar.setFormat("%v / %m batches")
        self.aux_bar = QProgressBar()
        self.aux_bar.setVisible(False)
        status = QGridLayout()
        status.addWidget(self.epoch_label, 0, 0)
        status.addWidget(self.best_label, 0, 1)
        status.addWidget(self.phase_label, 1, 0, 1, 2)
        status.addWidget(self.batch_bar, 2, 0, 1, 2)
        status.addWidget(self.aux_bar, 3, 0, 1, 2)

        self.curves = TrainingCurves()
        self.log = QPlainTextEdit()
        self.log.setReadOnly(True)
        self.log.setMaximumBlockCount(5000)
        self.log.setFont(QFont("monospace", 9))
        vsplit = QSplitter(Qt.Orientation.Vertical)
        vsplit.addWidget(self.curves)
        vsplit.addWidget(self.log)
        vsplit.setSizes([420, 160])

        right = QWidget()
        rl = QVBoxLayout(right)
        rl.setContentsMargins(0, 0, 0, 0)
        rl.addLayout(buttons)
        rl.addWidget(self.run_label)
        rl.addLayout(status)
        rl.addWidget(vsplit, 1)

        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(scroll)
        split.addWidget(right)
        split.setStretchFactor(1, 1)
        split.setSizes([380, 900])
        lay = QVBoxLayout(self)
        lay.addWidget(split)
        state.scan_changed.connect(self._on_scan)
        self._update_buttons()

    def _on_scan(self, scan) -> None:
        if scan is not None and not self.is_busy() and not self.best_path:
            self._offer_previous_run(scan.root)
        self._update_buttons()

    def _offer_previous_run(self, data_dir: str) -> None:
        """After a restart: show the latest run on this dataset, so it can be fine-tuned."""
        run = previous_run(self.options.output_dir.text().strip(), data_dir)
        if run is None:
            return
        from flowerstudio.core.runs import best_model_path, read_history

        self.run_dir, self.best_path = str(run), str(best_model_path(run))
        try:
            self.curves.set_history(read_history(run))
        except (OSError, ValueError, TypeError):
            self.curves.clear()
        hist = self.curves.history
        if hist:
            best = max(hist, key=lambda h: h.val_acc)
            self.best_label.setText(f"Best validation accuracy: <b>{100 * best.val_acc:.1f}%</b> (epoch {best.epoch})")
        try:
            self.log.setPlainText((run / "train.log").read_text(encoding="utf-8", errors="replace"))
            self.log.verticalScrollBar().setValue(self.log.verticalScrollBar().maximum())
        except OSError:
            pass
        self.run_label.setText(f"Latest run on this dataset: {run}<br>Fine-tune it, or train a new one.")

    # -- starting and stopping --------------------------------------------------------------
    def is_busy(self) -> bool:
        return self.task is not None and self.task.running

    def start_training(self) -> None:
        """Step 1: a new run with the backbone frozen."""
        scan = self.state.scan
        if scan is None or self.is_busy():
            return
        self.curves.clear()
        self.log.clear()
        self.run_dir = self.best_path = None
        self._start(self.options.config(scan.root, "frozen"), "Training the classifier (backbone frozen)")

    def start_fine_tune(self) -> None:
        """Step 2: same run, from its best checkpoint, more layers trainable, lower learning rate."""
        if self.state.scan is None or self.is_busy() or not self.best_path:
            return
        mode = self.options.fine_tune_mode()
        self._start(self.options.config(self.state.scan.root, mode, resume_from=self.best_path),
                    f"Fine-tuning ({DEPTH_WORDS.get(mode, mode)}) from {os.path.basename(self.best_path)}")

    def _start(self, config, title: str) -> None:
        self.config = config
        self._epochs_total = config.epochs
        self._epoch_offset = len(self.curves.history)
        self._started = time.monotonic()
        self._append(f"== {title}: {config.backbone}, {config.epochs} epochs, lr {config.lr:g}, "
                     f"batch {config.batch_size}, {config.input_size}px, device {config.device}")
        self.run_label.setText(title + " …")
        self.batch_bar.setValue(0)
        self.task = Task(run_training, config, name="train", parent=self)
        self.task.event.connect(self._on_event)
        self.task.finished.connect(self._on_finished)
        self.task.failed.connect(self._on_failed)
        self.task.done.connect(self._on_done)
        self.task.start()
        self.state.busy_changed.emit(True)
        self._update_buttons()

    # -- learning-rate finder and server export ------------------------------------------------
    lr_finder_steps = 100  # test batches of the learning-rate finder

    def find_lr(self, fine_tune: bool = False) -> Optional[LrFinderDialog]:
        """Opens the learning-rate finder for the first step or the fine-tune step; "Use" fills the field."""
        scan = self.state.scan
        if scan is None or self.is_busy() or (fine_tune and not self.best_path):
            return None
        if fine_tune:
            config = self.options.config(scan.root, self.options.fine_tune_mode(), resume_from=self.best_path)
        else:
            config = self.options.config(scan.root, "frozen")
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
        """The current settings (frozen step) as files and a command for a GPU server."""
        if self.is_busy():
            return None
        scan = self.state.scan
        dlg = ServerExportDialog(self.options.config(scan.root if scan is not None else "", "frozen"), self)
        dlg.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dlg.destroyed.connect(lambda _=None: setattr(self, "server_dialog", None))
        self.server_dialog = dlg
        dlg.open()
        return dlg

    def stop(self) -> None:
        if self.is_busy():
            self.task.cancel()
            self.stop_btn.setEnabled(False)
            self.phase_label.setText("Stopping after this batch…")

    def _update_buttons(self) -> None:
        busy = self.is_busy()
        has_data = self.state.scan is not None and bool(getattr(self.state.scan, "classes", None))
        self.train_btn.setEnabled(has_data and not busy)
        self.finetune_btn.setEnabled(has_data and not busy and bool(self.best_path))
        self.stop_btn.setEnabled(busy)
        finding = self.lr_dialog is not None
        self.train_btn.setEnabled(self.train_btn.isEnabled() and not finding)
        self.finetune_btn.setEnabled(self.finetune_btn.isEnabled() and not finding)
        self.options.lr_find_btn.setEnabled(has_data and not busy and not finding)
        self.options.ft_lr_find_btn.setEnabled(has_data and not busy and not finding and bool(self.best_path))
        self.server_btn.setEnabled(not busy)
        mode = self.options.fine_tune_mode()
        text = {"all": "Fine-tune all layers (unfreeze)",
                "last_stages": f"Fine-tune last {self.options.stages.value()} stages (unfreeze)",
                "frozen": "Continue training the head"}.get(mode, "Fine-tune")
        self.finetune_btn.setText(text)
        if not has_data and not busy:
            self.run_label.setText("Choose a dataset on the Dataset page, then press Train.")

    # -- events from the engine ------------------------------------------------------------------
    def _on_event(self, ev) -> None:
        if isinstance(ev, Progress):
            self._on_progress(ev)
        elif isinstance(ev, PhaseStarted):
            self._on_phase(ev)
        elif isinstance(ev, EpochEnd):
            self._on_epoch(ev.metrics)
        elif isinstance(ev, RunStarted):
            self.run_dir = ev.run_dir
        elif isinstance(ev, Log):
            self._append(ev.text if ev.level == "info" else f"{ev.level.upper()}: {ev.text}")
        elif isinstance(ev, CheckpointSaved):
            if ev.kind == "best":
                self.best_path = ev.path
            self._append(f"Saved {ev.kind} model (epoch {ev.epoch}, val acc {100 * ev.val_acc:.1f}%): {ev.path}")
        elif isinstance(ev, BadImage):
            self._append(f"WARNING: skipped {ev.path}: {ev.reason}")

    def _bar_for(self, phase: str) -> QProgressBar:
        return self.batch_bar if phase in ("train", "validate") else self.aux_bar

    def _on_phase(self, ev: PhaseStarted) -> None:
        bar = self._bar_for(ev.phase)
        bar.setVisible(True)
        bar.setRange(0, max(ev.total, 0))
        bar.setValue(0)
        title = PHASE_TITLES.get(ev.phase, ev.phase)
        if bar is self.aux_bar:
            unit = "MB" if ev.phase == "download" else "items"
            bar.setFormat(f"{title}: %v / %m {unit}" if ev.total else f"{title}…")
        else:
            bar.setFormat(f"{title}: %v / %m batches")
            self.aux_bar.setVisible(False)
        if ev.epoch:
            stage = STAGE_NAMES.get(ev.stage, ev.stage)
            n = ev.epoch - self._epoch_offset
            self.epoch_label.setText(f"Epoch {n} / {self._epochs_total}" + (f" · {stage}" if stage else ""))
            run = os.path.basename(self.run_dir) if self.run_dir else "new run"
            best = self.best_label.text().split("<b>")[-1].split("</b>")[0] if self.curves.history else ""
            self.state.set_status(f"Run {run}: epoch {n}/{self._epochs_total}" + (f" · best {best}" if best else ""))
        self.phase_label.setText(title + "…")

    def _on_progress(self, ev: Progress) -> None:
        bar = self._bar_for(ev.phase)
        if ev.phase == "download" and ev.total > 10_000_000:
            bar.setRange(0, ev.total // 1_000_000)
            bar.setValue(ev.done // 1_000_000)
        else:
            bar.setRange(0, max(ev.total, 0))
            bar.setValue(ev.done)
        bits = [PHASE_TITLES.get(ev.phase, ev.phase)]
        if ev.loss is not None:
            bits.append(f"loss {ev.loss:.3f}")
        if ev.eta is not None:
            bits.append(fmt_eta(ev.eta))
        self.phase_label.setText(" · ".join(bits))

    def _on_epoch(self, m) -> None:
        self.curves.add_epoch(m)
        hist = self.curves.history
        best = max(hist, key=lambda h: h.val_acc)
        self.best_label.setText(f"Best validation accuracy: <b>{100 * best.val_acc:.1f}%</b> (epoch {best.epoch})")
        # The engine logs each epoch's numbers itself; the log view shows its line.

    def _append(self, text: str) -> None:
        bar = self.log.verticalScrollBar()
        follow = bar.value() >= bar.maximum() - 4  # don't yank the view while the user reads back
        self.log.appendPlainText(text)
        if follow:
            bar.setValue(bar.maximum())

    # -- the end ------------------------------------------------------------------------------
    def _on_finished(self, result) -> None:
        self.result = result
        self.run_dir = result.run_dir
        if result.best_path:
            self.best_path = result.best_path
        if result.history and len(result.history) != len(self.curves.history):
            self.curves.set_history(result.history)
        minutes = (time.monotonic() - self._started) / 60
        word = "finished" if result.status == "completed" else "stopped"
        text = (f"Run {word} after {minutes:.1f} min. Best validation accuracy "
                f"<b>{100 * result.best_val_acc:.1f}%</b> at epoch {result.best_epoch}.")
        if result.best_path:
            text += f"<br>Model: {result.best_path}"
            text += "<br>Next: fine-tune for more accuracy, or go to Predict."
        self.run_label.setText(text)
        self.phase_label.setText(f"Training {word}.")
        self.batch_bar.setFormat(f"Training {word}")
        self.batch_bar.setValue(self.batch_bar.maximum())
        self._append(f"== Run {word}. Best val acc {100 * result.best_val_acc:.1f}% (epoch {result.best_epoch}).")
        if result.best_path:
            self.state.set_model(result.best_path)
        self.training_done.emit(result)

    def _on_failed(self, message: str, details: str) -> None:
        self.run_label.setText(f"<span style='color:#b00020'>Training failed: {message}</span>")
        self._append(f"ERROR: {message}")
        dialogs.show_error(self, "Training failed", f"Training stopped because of an error:\n\n{message}", details)

    def _on_done(self) -> None:
        self.aux_bar.setVisible(False)
        self.state.set_status("")
        self.state.busy_changed.emit(False)
        self._update_buttons()
