"""Prepare a training job for a GPU server: a config file without this computer's paths, and the command."""
from __future__ import annotations

import os
from typing import Optional

from PySide6.QtCore import Qt
from PySide6.QtGui import QFontDatabase, QGuiApplication
from PySide6.QtWidgets import (QDialog, QDialogButtonBox, QFileDialog, QFormLayout, QHBoxLayout, QLabel,
                               QLineEdit, QPlainTextEdit, QPushButton, QSpinBox, QVBoxLayout, QWidget)

from flowerstudio.core.foundation.config import TrainConfig  # plain dataclasses, no torch
from flowerstudio.gui import messages
from flowerstudio.gui.style import show_in_folder
from flowerstudio.gui import engine
from flowerstudio.gui.jobs import Job, run_job

ABOUT = ("Writes <b>server-config.json</b> (these training settings, without this computer's folders) and "
         "<b>RUN-ON-SERVER.txt</b> into a folder. Copy that folder and your photos to the server and run the "
         "command below there, replacing <i>/path/to/dataset</i> with where the photos are on the server.")


def default_dir(config: TrainConfig) -> str:
    base = config.output_dir or os.path.expanduser("~")
    return os.path.join(base, "for-server")


class ServerExportDialog(QDialog):
    """GPUs per machine and a folder in; the files written and the command to copy out."""

    def __init__(self, config: TrainConfig, parent: Optional[QWidget] = None,
                 fine_tune: Optional[TrainConfig] = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Train on a GPU server")
        self.resize(680, 380)
        self.config = config
        self.fine_tune = fine_tune  # the second step, continuing from the first one's best model
        self.task: Optional[Job] = None
        self.config_path: Optional[str] = None
        about = QLabel(ABOUT)
        about.setWordWrap(True)
        self.gpus = QSpinBox()
        self.gpus.setRange(1, 64)
        self.gpus.setValue(1)
        self.gpus.setMaximumWidth(90)
        self.gpus.setToolTip("How many GPUs each server machine has; training uses all of them at once")
        self.folder = QLineEdit(default_dir(config))
        browse = QPushButton("Browse…")
        browse.clicked.connect(self.choose_folder)
        folder_row = QWidget()
        row = QHBoxLayout(folder_row)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.folder, 1)
        row.addWidget(browse)
        form = QFormLayout()
        form.addRow("GPUs per machine:", self.gpus)
        form.addRow("Save files in:", folder_row)
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.command = QPlainTextEdit()
        self.command.setReadOnly(True)
        self.command.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse
                                             | Qt.TextInteractionFlag.TextSelectableByKeyboard)
        self.command.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.command.setPlaceholderText("The command appears here once the files are written.")
        self.command.setMaximumHeight(90)
        self.write_btn = QPushButton("Write files")
        self.write_btn.setDefault(True)
        self.write_btn.clicked.connect(self.write)
        self.copy_btn = QPushButton("Copy command")
        self.copy_btn.setEnabled(False)
        self.copy_btn.clicked.connect(self.copy_command)
        self.folder_btn = QPushButton("Show in folder")
        self.folder_btn.setEnabled(False)
        self.folder_btn.clicked.connect(lambda: self.config_path and show_in_folder(self.config_path))
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        for b in (self.folder_btn, self.copy_btn, self.write_btn):
            buttons.addButton(b, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.rejected.connect(self.reject)
        # A new GPU count means a new command: ask for the files again.
        self.gpus.valueChanged.connect(lambda: self.config_path and self.write())
        lay = QVBoxLayout(self)
        lay.addWidget(about)
        lay.addLayout(form)
        lay.addWidget(self.status)
        lay.addWidget(QLabel("Command to run on the server:"))
        lay.addWidget(self.command)
        lay.addStretch(1)
        lay.addWidget(buttons)

    def choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Save the server files in…", self.folder.text())
        if folder:
            self.folder.setText(folder)

    def write(self) -> None:
        if self.task is not None and self.task.running:
            return
        folder = self.folder.text().strip()
        if not folder:
            messages.show_error(self, "No folder", "Choose a folder to save the server files in.")
            return
        self.write_btn.setEnabled(False)
        self.status.setText("Writing…")
        self.task = run_job(engine.write_server_files, self.config, folder, self.gpus.value(), self.fine_tune,
                            title="Writing the server files", owner=self, on_result=self._on_written,
                            on_error=self._on_failed, on_done=self._on_done)

    def copy_command(self) -> None:
        QGuiApplication.clipboard().setText(self.command.toPlainText())
        self.status.setText(self.status.text().split("<br>")[0] + "<br>Command copied.")

    def _on_written(self, written: tuple[str, str]) -> None:
        self.config_path, command = written
        folder = os.path.dirname(self.config_path)
        self.command.setPlainText(command)
        self.copy_btn.setEnabled(True)
        self.folder_btn.setEnabled(True)
        self.status.setText(f"Saved server-config.json and RUN-ON-SERVER.txt in <b>{folder}</b>.")

    def _on_done(self) -> None:
        self.write_btn.setEnabled(True)

    def _on_failed(self, message: str, details: str) -> None:
        self.status.setText("")
        messages.show_error(self, "Cannot write the server files", message, details)
