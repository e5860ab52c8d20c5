"""Evaluate a model on a labelled folder: accuracy, per-class accuracy, confusion matrix, mistakes,
and how well its confidences are calibrated (ECE and a reliability diagram's data).

Which photos: given the dataset a run trained on, the run's own split decides (runs/record.py) —
its test/ photos where there are some, else exactly its validation photos, however the folder grew
since; given another folder, all of its photos (none of them was trained on). The report says which.
"""
from __future__ import annotations

import math
import os
from typing import Optional

import numpy as np

from flowerstudio.core.foundation.events import Callback, CancelToken, Log, ignore
from flowerstudio.core.foundation.vocab import LogLevel, Part, Split
from flowerstudio.core.labelling.eval_report import EvalReport, EvalRow, Mistake
from flowerstudio.core.labelling.predict import TOP_K, Predictor
from flowerstudio.core.model.calibration import expected_calibration_error, reliability
from flowerstudio.core.photos.names import DatasetError
from flowerstudio.core.photos.scan import DatasetScan, Sample, scan_dataset
from flowerstudio.core.runs.record import RunRecord, same_folder

NOT_IN_RUN = ("This model file is not in its run folder, so its validation photos are unknown: these were "
              "drawn now (with the run's seed) and may include photos it trained on.")


def choose_photos(model_path: str | os.PathLike, info, data_dir: str | os.PathLike, split: Split,
                  callback: Callback = ignore, cancel: Optional[CancelToken] = None
                  ) -> tuple[DatasetScan, list[Sample], Split, str, list[str]]:
    """(scan, photos, the split they are, what they are in words, notes) for evaluating a model on ``data_dir``."""
    record = RunRecord.of_model(model_path)
    trained_on = record.config.data_dir if record else (info.config or {}).get("data_dir", "")
    same = bool(trained_on) and same_folder(trained_on, data_dir)
    notes: list[str] = []
    if same and record is not None:
        scan = record.scan(data_dir, "its validation photos cannot be told from its training photos",
                           callback, cancel, check_images=False)
        whose = "the run's"
    else:
        cfg = info.config or {}
        scan = scan_dataset(data_dir, val_fraction=cfg.get("val_fraction", 0.2), seed=cfg.get("split_seed", 42),
                            check_images=False, callback=callback, cancel=cancel)
        whose = "this folder's"
        if same:
            notes.append(NOT_IN_RUN)
    if split == Split.AUTO:
        split = Split.TEST if scan.test else (Split.VAL if same else Split.ALL)
    samples = scan.train + scan.val + scan.test if split == Split.ALL else scan.samples(Part(split.value))
    words = {Split.TEST: f"{whose} {len(samples)} test photos", Split.VAL: f"{whose} {len(samples)} validation photos",
             Split.TRAIN: f"{whose} {len(samples)} training photos (the model learnt from these)",
             Split.ALL: f"all {len(samples)} photos of {data_dir}"}[split]
    if split == Split.ALL and same:
        notes.append("These include the photos the model trained on: the accuracy is flattered.")
    if not samples:
        raise DatasetError(f"{data_dir}: no photos in the '{split}' part")
    return scan, samples, split, words, notes


def evaluate(model_path: str | os.PathLike, data_dir: str | os.PathLike, split: Split | str = Split.AUTO,
             batch_size: int = 32, device: str = "auto", callback: Callback = ignore,
             cancel: Optional[CancelToken] = None, predictor: Optional[Predictor] = None) -> EvalReport:
    """Evaluate on ``data_dir``'s ``split`` (Split.AUTO: see the module). Classes are matched to the model's
    by folder name. A stop raises Cancelled (a part of an evaluation would read as the whole)."""
    predictor = predictor or Predictor(model_path, device)
    info = predictor.info
    scan, samples, split, words, notes = choose_photos(model_path, info, data_dir, Split(split), callback, cancel)
    to_model = {i: info.classes.index(c) for i, c in enumerate(scan.classes) if c in info.classes}
    skipped = [c for c in scan.classes if c not in info.classes]
    if skipped:
        callback(Log(f"Classes the model does not know are left out: {', '.join(skipped[:10])}", LogLevel.WARNING))
    samples = [s for s in samples if s.label in to_model]
    if not samples:
        raise DatasetError(f"{data_dir}: none of its class folders are classes of this model")
    truth = {s.path: to_model[s.label] for s in samples}
    result = predictor.predict([s.path for s in samples], batch_size, top_k=TOP_K, callback=callback, cancel=cancel)
    report = EvalReport(str(model_path), str(data_dir), split, list(info.classes), list(info.display_names),
                        [], words, result.unreadable, skipped_classes=skipped, notes=notes,
                        temperature=info.temperature, calibrated=info.calibrated)
    _fill(report, result.predictions, truth, info)
    return report


def _raw_confidence(p, temperature: float) -> float:
    """The top-1 probability of the raw softmax (T = 1): from the logits, or from the calibrated
    probabilities when a predictor gives none (softmax(z) is proportional to softmax(z / T) ** T)."""
    if p.logits is not None:
        z = np.asarray(p.logits, dtype=np.float64)
    else:
        z = temperature * np.log(np.maximum(np.asarray(p.probs, dtype=np.float64), 1e-300))
    return float(1.0 / np.exp(z - z.max()).sum())


def _fill(report: EvalReport, predictions, truth: dict[str, int], info) -> None:
    """The confusion matrix, mistakes, rows and calibration figures of ``predictions``."""
    n = info.num_classes
    cm = np.zeros((n, n), dtype=np.int64)
    raw_conf = []
    for p in predictions:  # in the order of the photos given, so rows keep the scan's order
        t = truth[p.path]
        cm[t, p.label] += 1
        report.rows.append(EvalRow(p.path, t, p.label, p.confidence))
        raw_conf.append(_raw_confidence(p, info.temperature))
        if p.label != t:
            p_true = float(p.probs[t]) if p.probs is not None else 0.0
            report.mistakes.append(Mistake(p.path, info.display_names[t], p.name, p.confidence,
                                           -math.log(max(p_true, 1e-12))))
    # Most confident first, as EvalReport.photos (the largest loss need not be the most confident mistake).
    report.mistakes.sort(key=lambda m: -m.confidence)
    report.confusion = cm.tolist()
    right = [r.true == r.predicted for r in report.rows]  # the raw softmax picks the same class: T > 0
    report.reliability = reliability([r.confidence for r in report.rows], right)
    report.reliability_uncalibrated = reliability(raw_conf, right)
    report.ece = expected_calibration_error(report.reliability)
    report.ece_uncalibrated = expected_calibration_error(report.reliability_uncalibrated)
