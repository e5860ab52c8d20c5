"""Keys you can find: Help > Keyboard shortcuts (every key of the app, by where it works), and the one-line
legend of the review keys that the Predict page shows above its photos, with each class's digit."""
from __future__ import annotations

from typing import Callable, Optional, Sequence

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QScrollArea, QSizePolicy, QVBoxLayout, QWidget

from flowerstudio.gui.style import esc

DIGITS = 9  # classes with a digit key (1 … 9); the others are chosen by their first letters
Rows = Sequence[tuple[str, str]]  # (key, what it does)


def legend_words(names: Sequence[str], shorten: Callable[[str], str] = str) -> str:
    """The review keys in one line, each class with its digit:
    "Keys: Enter = right · 1 daisy · 2 rose · or type the first letters · Del clears · Ctrl+Z undoes"."""
    digits = [f"{i + 1} {shorten(n)}" for i, n in enumerate(names[:DIGITS])]
    more = (f"the first letters for the other {len(names) - DIGITS}" if len(names) > DIGITS
            else "or type the first letters")
    return " · ".join(["Keys: Enter = right", *digits, more, "Del clears", "Ctrl+Z undoes"])


class KeyLegend(QLabel):
    """``legend_words`` in one line that never widens its page: the class names are shortened, each on its
    own, until the line fits; the tooltip has them in full. Hidden while there are no classes."""

    def __init__(self, keys: str, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.keys = keys  # the keys in words, for the tooltip
        self.names: list[str] = []
        self.setStyleSheet("color: #555;")
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        self.setVisible(False)

    def set_names(self, names: Sequence[str]) -> None:
        if list(names) == self.names:
            return
        self.names = list(names)
        digits = [f"{i + 1}: {n}" for i, n in enumerate(self.names[:DIGITS])]
        self.setToolTip("\n".join([self.keys.replace(" · ", "\n"), *digits]))
        self.setVisible(bool(self.names))
        self._fill()

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._fill()

    def _fill(self) -> None:
        fm = self.fontMetrics()
        text = ""
        for room in (200, 140, 100, 75, 55, 40, 28):  # pixels for each class name
            text = legend_words(self.names, lambda n: fm.elidedText(n, Qt.TextElideMode.ElideRight, room))
            if fm.horizontalAdvance(text) <= self.width():
                break
        self.setText(text)


def shortcuts_html(sections: Sequence[tuple[str, Rows]]) -> str:
    """One table per place where keys work."""
    parts = []
    for title, rows in sections:
        cells = "".join(f"<tr><td style='padding-right:16px'><b>{esc(key)}</b></td><td>{esc(what)}</td></tr>"
                        for key, what in rows)
        parts.append(f"<h3>{esc(title)}</h3><table cellspacing='2'>{cells}</table>")
    return "".join(parts)


class ShortcutsDialog(QDialog):
    """Help > Keyboard shortcuts: ``sections`` are (where, [(key, what it does)]), e.g. the menus' keys, the
    Predict page's review keys, the Review page's fixing keys. Opens without blocking."""

    def __init__(self, sections: Sequence[tuple[str, Rows]], parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Keyboard shortcuts")
        self.resize(560, 520)
        self.text = QLabel(shortcuts_html(sections))
        self.text.setTextFormat(Qt.TextFormat.RichText)
        self.text.setWordWrap(True)
        self.text.setAlignment(Qt.AlignmentFlag.AlignTop)
        self.text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.text.setContentsMargins(8, 0, 8, 8)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(self.text)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        lay = QVBoxLayout(self)
        lay.addWidget(scroll, 1)
        lay.addWidget(buttons)
