"""Message boxes used across pages.

Tests replace ``show_error`` / ``show_info`` / ``ask`` behaviour through
``dialogs.NONMODAL_FOR_TESTS``: modal loops would block a headless test run.
"""
from __future__ import annotations

from typing import Optional

from PySide6.QtWidgets import QHBoxLayout, QMessageBox, QPushButton, QWidget

# When True, boxes are shown non-modally and recorded instead of blocking.
NONMODAL_FOR_TESTS = False
shown: list[QMessageBox] = []
# The answer ``ask`` gives while NONMODAL_FOR_TESTS is set.
test_answer = True


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


def _show(box: QMessageBox) -> None:
    if NONMODAL_FOR_TESTS:
        shown.append(box)
        box.show()
    else:
        box.exec()


def show_error(parent: Optional[QWidget], title: str, message: str, details: str = "") -> None:
    """An error in words, with the technical details (traceback) folded away."""
    _show(_box(parent, QMessageBox.Icon.Critical, title, message, details))


def show_info(parent: Optional[QWidget], title: str, message: str, details: str = "",
              informative: str = "") -> None:
    _show(_box(parent, QMessageBox.Icon.Information, title, message, details, informative))


def ask(parent: Optional[QWidget], title: str, question: str, yes: str = "Yes", no: str = "No") -> bool:
    if NONMODAL_FOR_TESTS:
        return test_answer
    box = _box(parent, QMessageBox.Icon.Question, title, question)
    yes_btn = box.addButton(yes, QMessageBox.ButtonRole.YesRole)
    box.addButton(no, QMessageBox.ButtonRole.NoRole)
    box.setDefaultButton(yes_btn)
    box.exec()
    return box.clickedButton() is yes_btn


def with_button(field: QWidget, button: QPushButton) -> QWidget:
    """A form field with a button on its right (Browse…, Find…)."""
    row = QWidget()
    lay = QHBoxLayout(row)
    lay.setContentsMargins(0, 0, 0, 0)
    lay.addWidget(field, 1)
    lay.addWidget(button)
    return row
