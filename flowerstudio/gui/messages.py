"""Message boxes: errors, information and yes/no questions, in words a user reads.

Errors and information open without blocking (``open()``, no nested event loop): a box shown from a
job's result never holds up, or re-enters, the delivery of other jobs' results. Only a question
waits for its answer. Tests replace these functions (monkeypatch) rather than this module carrying
test switches.
"""
from __future__ import annotations

from typing import Optional

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox, QWidget

MIN_TEXT_WIDTH = 320  # px
TITLE_BAR_EXTRA = 140  # px the window manager's icon and buttons take beside the title
_open: set[QMessageBox] = set()  # boxes on screen without a parent: held here until they close


def _box(parent: Optional[QWidget], icon: QMessageBox.Icon, title: str, text: str,
         details: str = "", informative: str = "") -> QMessageBox:
    box = QMessageBox(parent)
    box.setIcon(icon)
    box.setWindowTitle(title)
    box.setText(text)
    # A box is as wide as its text: a one-line message would cut its own title ("Sort und…r Studio").
    # Qt's message box ignores setMinimumWidth; its text label's minimum width holds.
    wide = max(MIN_TEXT_WIDTH, box.fontMetrics().horizontalAdvance(title) + TITLE_BAR_EXTRA)
    box.setStyleSheet(f"QLabel#qt_msgbox_label {{ min-width: {wide}px; }}")
    if informative:
        box.setInformativeText(informative)
    if details:
        box.setDetailedText(details)
    return box


def _show(box: QMessageBox) -> None:
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    _open.add(box)
    box.finished.connect(lambda _code, b=box: _open.discard(b))
    box.open()


def show_error(parent: Optional[QWidget], title: str, message: str, details: str = "") -> None:
    """An error in words, with the technical details (traceback) folded away."""
    _show(_box(parent, QMessageBox.Icon.Critical, title, message, details))


def show_info(parent: Optional[QWidget], title: str, message: str, details: str = "",
              informative: str = "") -> None:
    _show(_box(parent, QMessageBox.Icon.Information, title, message, details, informative))


def ask(parent: Optional[QWidget], title: str, question: str, yes: str = "Yes", no: str = "No") -> bool:
    box = _box(parent, QMessageBox.Icon.Question, title, question)
    yes_btn = box.addButton(yes, QMessageBox.ButtonRole.YesRole)
    box.addButton(no, QMessageBox.ButtonRole.NoRole)
    box.setDefaultButton(yes_btn)
    box.exec()
    return box.clickedButton() is yes_btn
