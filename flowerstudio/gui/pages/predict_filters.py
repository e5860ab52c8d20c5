"""The Predict gallery's filter row: predicted class, minimum confidence, sort order, only wrong."""
from __future__ import annotations

from typing import Optional, Sequence

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QCheckBox, QComboBox, QDoubleSpinBox, QHBoxLayout, QLabel, QWidget

from flowerstudio.gui.widgets.gallery_model import GalleryFilter

ONLY_WRONG_TIP = ("Only the photos the model got wrong. It knows a photo's class only when the photo is inside "
                  "a folder named after a class (like the dataset's): photos elsewhere are never \"wrong\".")
# Said under the filters when Only wrong hides every photo because none is in such a folder.
ONLY_WRONG_NONE = "Only wrong needs photos inside folders named after the classes; none of these are."
SORTS = [("confidence_asc", "Least confident first"), ("confidence_desc", "Most confident first"),
         ("wrong_first", "Wrong first"), ("name", "File name")]


class FilterBar(QWidget):
    """Applies its choices to a GalleryFilter; ``changed`` after each."""

    changed = Signal()

    def __init__(self, proxy: GalleryFilter, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.proxy = proxy
        self.class_filter = QComboBox()
        self.class_filter.setMinimumContentsLength(14)
        self.set_classes([])
        self.min_conf = QDoubleSpinBox()
        self.min_conf.setRange(0, 100)
        self.min_conf.setSuffix(" %")
        self.min_conf.setDecimals(0)
        self.sort = QComboBox()
        for key, title in SORTS:
            self.sort.addItem(title, key)
        self.only_wrong = QCheckBox("Only wrong")
        self.only_wrong.setToolTip(ONLY_WRONG_TIP)
        self.class_filter.setToolTip("Show only the photos the model put in this class")
        self.min_conf.setToolTip("Hide the photos the model is less sure about than this")
        self.sort.setToolTip("The order of the photos: least sure first puts the ones to check on top")
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        for w in (QLabel("Predicted class:"), self.class_filter, QLabel("Min. confidence:"), self.min_conf,
                  QLabel("Sort:"), self.sort, self.only_wrong):
            lay.addWidget(w)
        lay.addStretch(1)
        for signal in (self.class_filter.currentIndexChanged, self.min_conf.valueChanged,
                       self.only_wrong.toggled, self.sort.currentIndexChanged):
            signal.connect(self.apply)

    def set_classes(self, names: Sequence[str]) -> None:
        self.class_filter.blockSignals(True)
        self.class_filter.clear()
        self.class_filter.addItem("All classes", -1)
        for i, name in enumerate(names):
            self.class_filter.addItem(name, i)
        self.class_filter.blockSignals(False)

    def apply(self) -> None:
        label = self.class_filter.currentData()
        self.proxy.configure(label=label if label is not None else -1, min_confidence=self.min_conf.value() / 100.0,
                             only_wrong=self.only_wrong.isChecked(), sort=self.sort.currentData())
        self.changed.emit()
