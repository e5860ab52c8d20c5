"""Evaluate a model on a labelled folder: accuracy, per-class accuracy, confusion matrix, mistakes,
and how well its confidences are calibrated (ECE and a reliability diagram's data)."""
from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Optional

import numpy as np

from flowerstudio.core.atomic import atomic_write_bytes
from flowerstudio.core.calibration import ReliabilityBin, expected_calibration_error, reliability
from flowerstudio.core.dataset import DatasetError, scan_dataset
from flowerstudio.core.events import Callback, CancelToken, Log, ignore
from flowerstudio.core.predict import Predictor
from flowerstudio.core.vocab import LogLevel, Split


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


@dataclass
class EvalReport:
    """Everything ``flowerstudio evaluate`` prints and writes."""

    model: str
    data: str
    split: Split
    classes: list[str]
    display_names: list[str]
    confusion: list[list[int]]  # rows: true class, columns: predicted class
    unreadable: list[tuple[str, str]] = field(default_factory=list)
    mistakes: list[Mistake] = field(default_factory=list)
    skipped_classes: list[str] = field(default_factory=list)
    cancelled: bool = False
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

    def per_class(self) -> list[dict]:
        """Rows of: class, name, images, correct, accuracy, most_confused_with (name or '')."""
        cm = np.asarray(self.confusion)
        rows = []
        for i, (folder, name) in enumerate(zip(self.classes, self.display_names)):
            n = int(cm[i].sum())
            off = cm[i].copy()
            off[i] = 0
            worst = int(off.argmax()) if off.sum() else -1
            rows.append({
                "class": folder, "name": name, "images": n, "correct": int(cm[i, i]),
                "accuracy": cm[i, i] / n if n else float("nan"),
                "most_confused_with": self.display_names[worst] if worst >= 0 else "",
            })
        return rows

    def summary(self) -> str:
        calibration = (f"temperature {self.temperature:.3g}" if self.calibrated
                       else "not calibrated (T = 1)")
        return (f"accuracy {self.accuracy:.1%} ({self.correct}/{self.total}) on {self.data} [{self.split}], "
                f"{len(self.mistakes)} mistakes, {len(self.unreadable)} unreadable; "
                f"ECE {self.ece:.3f} (raw softmax {self.ece_uncalibrated:.3f}, {calibration})")

    def save(self, out_dir: str | os.PathLike) -> list[Path]:
        """Write report.json, per_class.csv, confusion.csv and mistakes.csv into ``out_dir``."""
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        data = {**asdict(self), "accuracy": self.accuracy, "total": self.total, "per_class": self.per_class()}
        del data["rows"]  # the mistakes and the matrix already say it; one row per photo would swamp the file
        data = json.loads(json.dumps(data, default=float).replace("NaN", "null"))
        atomic_write_bytes(out / "report.json", json.dumps(data, indent=1).encode())
        _csv(out / "per_class.csv", ["class", "name", "images", "correct", "accuracy", "most_confused_with"],
             [list(r.values()) for r in self.per_class()])
        _csv(out / "confusion.csv", ["true \\ predicted"] + self.display_names,
             [[name] + row for name, row in zip(self.display_names, self.confusion)])
        _csv(out / "mistakes.csv", ["path", "true", "predicted", "confidence", "loss"],
             [[m.path, m.true_name, m.predicted_name, f"{m.confidence:.6f}", f"{m.loss:.6f}"] for m in self.mistakes])
        return [out / n for n in ("report.json", "per_class.csv", "confusion.csv", "mistakes.csv")]


def _csv(path: Path, header: list, rows: list) -> None:
    from flowerstudio.core.csvfile import write_csv_file  # formula-safe cells, atomic write

    write_csv_file(path, header, rows)


def _raw_confidence(p, temperature: float) -> float:
    """The top-1 probability of the raw softmax (T = 1): from the logits, or from the calibrated
    probabilities when a predictor gives none (softmax(z) is proportional to softmax(z / T) ** T)."""
    if p.logits is not None:
        z = np.asarray(p.logits, dtype=np.float64)
    else:
        z = temperature * np.log(np.maximum(np.asarray(p.probs, dtype=np.float64), 1e-300))
    return float(1.0 / np.exp(z - z.max()).sum())


def evaluate(
    model_path: str | os.PathLike,
    data_dir: str | os.PathLike,
    split: Split | str = Split.AUTO,
    batch_size: int = 32,
    device: str = "auto",
    callback: Callback = ignore,
    cancel: Optional[CancelToken] = None,
    predictor: Optional[Predictor] = None,
) -> EvalReport:
    """Evaluate on ``data_dir``'s ``split`` (Split.AUTO: test/, else the validation split).
    Classes are matched to the model's by folder name."""
    split = Split(split)
    predictor = predictor or Predictor(model_path, device)
    info = predictor.info
    scan = scan_dataset(data_dir, check_images=False, callback=callback, cancel=cancel)
    if split == Split.AUTO:
        split = Split.TEST if scan.test else Split.VAL
    samples = scan.train + scan.val + scan.test if split == Split.ALL else getattr(scan, split.value)
    if not samples:
        raise DatasetError(f"{data_dir}: no photos in the '{split}' part")
    to_model = {i: info.classes.index(c) for i, c in enumerate(scan.classes) if c in info.classes}
    skipped = [c for c in scan.classes if c not in info.classes]
    if skipped:
        callback(Log(f"Classes the model does not know are left out: {', '.join(skipped[:10])}", LogLevel.WARNING))
    samples = [s for s in samples if s.label in to_model]
    if not samples:
        raise DatasetError(f"{data_dir}: none of its class folders are classes of this model")
    truth = {s.path: to_model[s.label] for s in samples}
    result = predictor.predict([s.path for s in samples], batch_size, top_k=3, callback=callback, cancel=cancel)
    n = info.num_classes
    cm = np.zeros((n, n), dtype=np.int64)
    mistakes, rows, raw_conf = [], [], []
    for p in result.predictions:  # in the order of the photos given, so rows keep the scan's order
        t = truth[p.path]
        cm[t, p.label] += 1
        rows.append(EvalRow(p.path, t, p.label, p.confidence))
        raw_conf.append(_raw_confidence(p, info.temperature))
        if p.label != t:
            p_true = float(p.probs[t]) if p.probs is not None else 0.0
            mistakes.append(Mistake(p.path, info.display_names[t], p.name, p.confidence,
                                    -math.log(max(p_true, 1e-12))))
    # Most confident first, as EvalReport.photos (the largest loss need not be the most confident mistake).
    mistakes.sort(key=lambda m: -m.confidence)
    right = [r.true == r.predicted for r in rows]  # the raw softmax picks the same class: T > 0
    shown, raw = reliability([r.confidence for r in rows], right), reliability(raw_conf, right)
    return EvalReport(str(model_path), str(data_dir), split, list(info.classes), list(info.display_names),
                      cm.tolist(), result.unreadable, mistakes, skipped, result.cancelled, rows,
                      info.temperature, info.calibrated, expected_calibration_error(shown),
                      expected_calibration_error(raw), shown, raw)
