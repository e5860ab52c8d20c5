"""What an evaluation found, and the files ``flowerstudio evaluate --out`` writes."""
from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from flowerstudio.core.foundation.atomic import atomic_write_bytes, write_each
from flowerstudio.core.foundation.csvfile import write_csv_file
from flowerstudio.core.foundation.vocab import Split
from flowerstudio.core.model.calibration import ReliabilityBin

FILES = ("report.json", "per_class.csv", "confusion.csv", "mistakes.csv", "photos.csv")


@dataclass
class Mistake:
    path: str
    true_name: str
    predicted_name: str
    confidence: float
    loss: float  # -log p(true class)


@dataclass(frozen=True)
class EvalRow:
    """One evaluated photo; ``true`` and ``predicted`` index the report's classes."""

    path: str
    true: int
    predicted: int
    confidence: float


@dataclass(frozen=True)
class ClassRow:
    """One class's line of the per-class table."""

    folder: str
    name: str
    photos: int
    correct: int
    accuracy: float  # NaN when the class had no photos
    most_confused_with: str  # the display name it was most often taken for, or ""


@dataclass
class EvalReport:
    """Everything ``flowerstudio evaluate`` prints and writes. ``photos_used`` says which photos these are."""

    model: str
    data: str
    split: Split
    classes: list[str]
    display_names: list[str]
    confusion: list[list[int]]  # rows: true class, columns: predicted class
    photos_used: str = ""  # e.g. "the run's 46 validation photos (its split.json)"
    unreadable: list[tuple[str, str]] = field(default_factory=list)
    mistakes: list[Mistake] = field(default_factory=list)
    skipped_classes: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what the reader must know about these figures
    rows: list[EvalRow] = field(default_factory=list)  # every evaluated photo, in scan order
    # Calibration: the model's temperature, and the expected calibration error (15 equal-width bins)
    # of the confidences the app shows (calibrated) and of the raw softmax, each with its bins.
    temperature: float = 1.0
    calibrated: bool = False
    ece: float = math.nan
    ece_uncalibrated: float = math.nan
    reliability: list[ReliabilityBin] = field(default_factory=list)
    reliability_uncalibrated: list[ReliabilityBin] = field(default_factory=list)

    def photos(self, true: int, predicted: int) -> list[str]:
        """The photos of one confusion cell: mistakes most confident first, correct ones in scan order."""
        cell = [r for r in self.rows if r.true == true and r.predicted == predicted]
        if true != predicted:
            cell.sort(key=lambda r: -r.confidence)  # stable: equal confidences keep scan order
        return [r.path for r in cell]

    @property
    def total(self) -> int:
        return int(np.sum(self.confusion))

    @property
    def correct(self) -> int:
        return int(np.trace(np.asarray(self.confusion)))

    @property
    def accuracy(self) -> float:
        return self.correct / self.total if self.total else 0.0

    def per_class(self) -> list[ClassRow]:
        cm = np.asarray(self.confusion)
        rows = []
        for i, (folder, name) in enumerate(zip(self.classes, self.display_names)):
            n = int(cm[i].sum())
            off = cm[i].copy()
            off[i] = 0
            worst = int(off.argmax()) if off.sum() else -1
            rows.append(ClassRow(folder, name, n, int(cm[i, i]), cm[i, i] / n if n else float("nan"),
                                 self.display_names[worst] if worst >= 0 else ""))
        return rows

    def summary(self) -> str:
        calibration = f"temperature {self.temperature:.3g}" if self.calibrated else "not calibrated (T = 1)"
        return (f"accuracy {self.accuracy:.1%} ({self.correct} of {self.total}) on {self.photos_used or self.data}, "
                f"{len(self.mistakes)} mistakes, {len(self.unreadable)} unreadable; "
                f"ECE {self.ece:.3f} (raw softmax {self.ece_uncalibrated:.3f}, {calibration})")

    def save(self, out_dir: str | os.PathLike) -> tuple[list[Path], list[str]]:
        """Write the FILES into ``out_dir``. Each file is tried: returns (written, 'file: why' for each that
        could not be), so a late disk problem costs the files it hit, not the evaluation."""
        out = Path(out_dir)
        data = {**asdict(self), "accuracy": self.accuracy, "total": self.total,
                "per_class": [asdict(r) for r in self.per_class()]}
        del data["rows"]  # photos.csv lists them
        data = json.loads(json.dumps(data, default=float).replace("NaN", "null"))
        writers = {
            "report.json": lambda p: atomic_write_bytes(p, json.dumps(data, indent=1).encode()),
            "per_class.csv": lambda p: write_csv_file(p, ["class", "name", "images", "correct", "accuracy",
                                                          "most_confused_with"],
                                                      [list(asdict(r).values()) for r in self.per_class()]),
            "confusion.csv": lambda p: write_csv_file(p, ["true \\ predicted"] + self.display_names,
                                                      [[n] + row for n, row in zip(self.display_names, self.confusion)]),
            "mistakes.csv": lambda p: write_csv_file(p, ["path", "true", "predicted", "confidence", "loss"],
                                                     [[m.path, m.true_name, m.predicted_name, f"{m.confidence:.6f}",
                                                       f"{m.loss:.6f}"] for m in self.mistakes]),
            "photos.csv": lambda p: write_csv_file(p, ["path", "true", "predicted", "confidence", "correct"],
                                                   [[r.path, self.display_names[r.true], self.display_names[r.predicted],
                                                     f"{r.confidence:.6f}", int(r.true == r.predicted)]
                                                    for r in self.rows]),
        }
        return write_each(out, writers)
