"""A scan's problems as a tree: unreadable photos and skipped files with their reasons, and warnings."""
from __future__ import annotations

from typing import Optional

from PySide6.QtWidgets import QHeaderView, QTreeWidget, QTreeWidgetItem, QWidget

from flowerstudio.core.foundation.fsnames import display_path


class ProblemsTree(QTreeWidget):
    """One group per kind of problem, each row a file and why it was left out."""

    def __init__(self, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.setHeaderLabels(["File", "Reason"])
        self.setRootIsDecorated(True)
        self.header().setSectionResizeMode(0, QHeaderView.ResizeMode.Interactive)
        self.setColumnWidth(0, 520)

    def fill(self, scan) -> int:
        """Show ``scan``'s problems; returns how many there are. None (no scan, or a failed one) shows none."""
        self.clear()
        if scan is None:
            return 0
        for title, rows in (("Unreadable photos", scan.unreadable), ("Skipped files", scan.skipped)):
            top = QTreeWidgetItem([f"{title} ({len(rows)})", ""])
            for path, reason in rows:
                child = QTreeWidgetItem([display_path(path), str(reason)])
                child.setToolTip(0, display_path(path))
                child.setToolTip(1, str(reason))  # reasons say what to do; the column may cut them
                top.addChild(child)
            self.addTopLevelItem(top)
            top.setExpanded(len(rows) <= 200)  # thousands of rows expanded would stall the window
        warn = QTreeWidgetItem([f"Warnings ({len(scan.warnings)})", ""])
        for w in scan.warnings:
            child = QTreeWidgetItem([w, ""])
            child.setToolTip(0, w)
            warn.addChild(child)
        self.addTopLevelItem(warn)
        warn.setExpanded(True)
        return len(scan.unreadable) + len(scan.skipped) + len(scan.warnings)
