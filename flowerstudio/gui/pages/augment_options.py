"""The augmentation switches of the Train page: the tutorial's recipe, step by step."""
from __future__ import annotations

from typing import Optional

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QCheckBox, QGroupBox, QHBoxLayout, QPushButton, QSpinBox, QVBoxLayout, QWidget

from flowerstudio.core.foundation.config import AugmentConfig
from flowerstudio.gui import settings


def _saved_augment() -> AugmentConfig:
    """The last augmentation switches; stored as JSON so types survive ini files."""
    return AugmentConfig.from_json(settings.get("train/augment", "{}", str))


class AugmentOptions(QGroupBox):
    """``changed`` on every switch; ``augment()`` is the recipe they make."""

    changed = Signal()

    def __init__(self, parent: Optional[QWidget] = None) -> None:
        super().__init__("Augmentation (training photos only)", parent)
        a = self._base = _saved_augment()
        self.rotation = QCheckBox("Rotate randomly up to")
        self.rotation.setChecked(a.rotation)
        self.rot_deg = QSpinBox()
        self.rot_deg.setRange(1, 180)
        self.rot_deg.setValue(int(a.rotation_degrees))
        self.rot_deg.setSuffix("°")
        rot_row = QHBoxLayout()
        rot_row.addWidget(self.rotation)
        rot_row.addWidget(self.rot_deg)
        rot_row.addStretch(1)
        self.random_crop = QCheckBox("Random crop (instead of centre crop)")
        self.random_crop.setChecked(a.random_crop)
        self.hflip = QCheckBox("Flip left–right")
        self.hflip.setChecked(a.hflip)
        self.vflip = QCheckBox("Flip upside down")
        self.vflip.setChecked(a.vflip)
        self.color = QCheckBox("Vary brightness, contrast and colour")
        self.color.setChecked(a.color_jitter)
        self.gray = QCheckBox("Sometimes grey-scale")
        self.gray.setChecked(a.grayscale)
        self.preview_btn = QPushButton("Preview augmentation")
        lay = QVBoxLayout(self)
        lay.addLayout(rot_row)
        for w in (self.random_crop, self.hflip, self.vflip, self.color, self.gray, self.preview_btn):
            lay.addWidget(w)  # the rotation switch sits in its row, beside its angle
        for w in (self.rotation, self.random_crop, self.hflip, self.vflip, self.color, self.gray):
            w.toggled.connect(self.changed)
        self.rot_deg.valueChanged.connect(self.changed)

    def augment(self) -> AugmentConfig:
        a = AugmentConfig(**vars(self._base))  # keeps the parameters the form does not show
        a.rotation, a.rotation_degrees = self.rotation.isChecked(), float(self.rot_deg.value())
        a.random_crop, a.hflip, a.vflip = self.random_crop.isChecked(), self.hflip.isChecked(), self.vflip.isChecked()
        a.color_jitter, a.grayscale = self.color.isChecked(), self.gray.isChecked()
        return a

    def save(self) -> None:
        settings.put("train/augment", self.augment().to_json())
