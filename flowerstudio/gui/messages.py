"""Message boxes: errors, information and yes/no questions, in words a user reads.

Tests replace these functions (monkeypatch) rather than this module carrying test switches.
"""
from __future__ import annotations

from typing import Optional

from PySide6.QtWidgets import QMessageBox, QWidget


def _box(parent: Optional[QWidget], icon: QMessageBox.Icon, title: str, text: str,
         details: str = "", informative: str = "") -> QMessageBox:
    box = QMessageBox(parent)
    box.setIcon(icon)
    box.setWindowTitle(title)
    box.setText(text)
    if informative:
        box.setInformativeText(informative)
    if details:
        box.setDetailedText(details)
    return box


def show_error(parent: Optional[QWidget], title: str, message: str, details: str = "") -> None:
    """An error in words, with the technical details (traceback) folded away."""
    _box(parent, QMessageBox.Icon.Critical, title, message, details).exec()


def show_info(parent: Optional[QWidget], title: str, message: str, details: str = "",
              informative: str = "") -> None:
    _box(parent, QMessageBox.Icon.Information, title, message, details, informative).exec()


def ask(parent: Optional[QWidget], title: str, question: str, yes: str = "Yes", no: str = "No") -> bool:
    box = _box(parent, QMessageBox.Icon.Question, title, question)
    yes_btn = box.addButton(yes, QMessageBox.ButtonRole.YesRole)
    box.addButton(no, QMessageBox.ButtonRole.NoRole)
    box.setDefaultButton(yes_btn)
    box.exec()
    return box.clickedButton() is yes_btn
