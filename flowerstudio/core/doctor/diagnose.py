"""The dataset doctor: likely mislabelled photos, duplicates (and train/validation leaks), outliers.

``diagnose`` scans the folder as training does (layouts, names, exclusions), takes every photo's
features from the training feature cache (extracting what is missing), and then works on those
features alone: a cross-validated linear probe for the labels (label_issues.py), one nearest-
neighbour search for duplicates (duplicates.py) and outliers (outliers.py). Findings the user
kept (dataset_lists.py) are left out. ``DoctorReport.save`` writes the CSVs and summary.json.
"""
from __future__ import annotations

import copy
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Optional

import numpy as np

from flowerstudio.core.foundation.atomic import atomic_write_bytes, write_each
from flowerstudio.core.foundation.config import TrainConfig
from flowerstudio.core.foundation.csvfile import write_csv_file
from flowerstudio.core.photos.scan import scan_dataset
from flowerstudio.core.runs.record import RunRecord
from flowerstudio.core.photos.lists import keep_key, read_keeps
from flowerstudio.core.doctor.duplicates import Duplicate, find_duplicates
from flowerstudio.core.foundation.events import Callback, CancelToken, ignore
from flowerstudio.core.foundation.fsnames import json_bytes
from flowerstudio.core.doctor.label_issues import LabelIssue, find_label_issues
from flowerstudio.core.doctor.neighbours import nearest_neighbours
from flowerstudio.core.doctor.outliers import OUTLIER_Z, Outlier, class_centres, outlier_scores, typical_photos
from flowerstudio.core.doctor.photo_features import PhotoFeatures, photo_features
from flowerstudio.core.foundation.vocab import Finding

NEIGHBOURS = 20  # per photo: enough for the k-NN label vote, outliers and duplicate candidates
TYPICAL = 6  # photos per class shown beside a suspect (the Review page)
FILES = ("label_issues.csv", "duplicates.csv", "outliers.csv", "summary.json")


@dataclass
class DoctorReport:
    """What the doctor found in ``data_dir``; each list is ranked, the most likely problem first."""

    data_dir: str
    backbone: str
    classes: list[str]
    display_names: list[str]
    photos: int  # photos looked at (decoded, not excluded)
    label_issues: list[LabelIssue] = field(default_factory=list)
    duplicates: list[Duplicate] = field(default_factory=list)
    outliers: list[Outlier] = field(default_factory=list)
    unreadable: list[tuple[str, str]] = field(default_factory=list)  # (path, reason): left out
    notes: list[str] = field(default_factory=list)  # what could not be checked, and why
    typical: dict[str, list[str]] = field(default_factory=dict)  # class folder -> its most central photos
    probe_accuracy: Optional[float] = None  # out-of-sample accuracy of the label probe
    kept: int = 0  # findings left out because the user kept them
    seconds: float = 0.0
    split: str = ""  # whose split says which photos train and which validate (the leak rule's sides)

    @property
    def leaks(self) -> list[Duplicate]:
        return [d for d in self.duplicates if d.leak]

    def summary(self) -> str:
        # Plain words: the probe is "a quick check", a z-score is "unlike the others".
        acc = (f" A quick check trained on them recognises {self.probe_accuracy:.0%} of the photos' classes."
               if self.probe_accuracy is not None else "")
        exact = sum(d.kind == "exact" for d in self.duplicates)
        lines = [f"Checked {_count(self.photos, 'photo')} in {_count(len(self.classes), 'class')} in "
                 f"{self.seconds:.1f} s.{acc}",
                 # "May be", not "likely": with a probe 70-80 % accurate most of a long list is fine.
                 f"  {_count(len(self.label_issues), 'photo')} may be in the wrong class folder (the likeliest first)",
                 f"  {_count(len(self.duplicates), 'pair')} of duplicate photos ({_count(exact, 'exact copy')}), "
                 f"{len(self.leaks)} across train and validation/test",
                 f"  {_count(len(self.outliers), 'photo')} unlike all the others (outliers)"]
        if self.unreadable:
            lines.append(f"  {_count(len(self.unreadable), 'unreadable photo')} left out")
        if self.kept:
            lines.append(f"  {_count(self.kept, 'finding')} you kept {'is' if self.kept == 1 else 'are'} not listed")
        lines += [f"Note: {n}" for n in self.notes]
        if self.split:
            lines.append(f"Split: {self.split.removeprefix('Split: ')}")
        return "\n".join(lines)

    def save(self, out_dir: str | os.PathLike) -> tuple[list[Path], list[str]]:
        """Write label_issues.csv, duplicates.csv, outliers.csv and summary.json into ``out_dir``: (written,
        'file: why' for each the disk refused)."""
        names = dict(zip(self.classes, self.display_names))
        summary = {k: v for k, v in asdict(self).items() if k not in ("label_issues", "duplicates", "outliers")}
        summary.update(label_issues=len(self.label_issues), duplicates=len(self.duplicates), leaks=len(self.leaks),
                       outliers=len(self.outliers), exact_duplicates=sum(d.kind == "exact" for d in self.duplicates))
        return write_each(Path(out_dir), {
            FILES[0]: lambda p: write_csv_file(p, ["path", "given", "suggested", "score", "given_name",
                                                   "suggested_name", "given_probability", "suggested_probability",
                                                   "part"],
                                               ([i.path, i.given, i.suggested, _num(i.score), names[i.given],
                                                 names[i.suggested], _num(i.given_probability),
                                                 _num(i.suggested_probability), i.part] for i in self.label_issues)),
            FILES[1]: lambda p: write_csv_file(p, ["path_a", "path_b", "similarity", "kind", "leak", "part_a",
                                                   "part_b"],
                                               ([d.path_a, d.path_b, _num(d.similarity), d.kind, int(d.leak),
                                                 d.part_a, d.part_b] for d in self.duplicates)),
            FILES[2]: lambda p: write_csv_file(p, ["path", "class", "score", "neighbour_similarity",
                                                   "class_similarity", "part"],
                                               ([o.path, o.label, _num(o.score), _num(o.neighbour_similarity),
                                                 _num(o.class_similarity), o.part] for o in self.outliers)),
            FILES[3]: lambda p: atomic_write_bytes(p, json_bytes(summary, indent=1)),
        })


def _num(value: float) -> str:
    return f"{value:.6f}"


def _count(n: int, noun: str) -> str:
    """"1 photo", "2 photos", "1 class", "3 classes", "2 exact copies"."""
    if n == 1:
        return f"1 {noun}"
    plural = noun[:-1] + "ies" if noun.endswith("y") else noun + ("es" if noun.endswith("ss") else "s")
    return f"{n} {plural}"


def diagnose(data_dir: str | os.PathLike, config: Optional[TrainConfig] = None, callback: Callback = ignore,
             cancel: Optional[CancelToken] = None, run: Optional[RunRecord] = None) -> DoctorReport:
    """Check the photos of ``data_dir``. ``config`` gives the backbone, input size, names file, split and
    device (the training config's defaults otherwise). ``run``: a run trained on ``data_dir``, whose split
    says which photos are training and which validation (the leaks between them); else the split is drawn
    as a new run's would be. Raises Cancelled when ``cancel`` is set."""
    start = time.perf_counter()
    cfg = copy.deepcopy(config) if config is not None else TrainConfig()
    cfg.data_dir = os.fspath(data_dir)
    cfg.validate()
    cancel = cancel or CancelToken()
    if run is not None and run.trained_on(cfg.data_dir):
        scan = run.scan(cfg.data_dir, "its leaks cannot be told", callback, cancel, min_classes=1)
    else:
        scan = scan_dataset(cfg.data_dir, cfg.names_file, cfg.val_fraction, cfg.split_seed, callback=callback,
                            cancel=cancel, min_classes=1)
    feats = photo_features(scan, cfg, callback, cancel)
    report = examine(feats, scan.root, scan.classes, scan.display_names, cfg.backbone, callback, cancel)
    report.split = scan.split_notes[0] if scan.split_notes else "a split drawn as a new run's would be"
    report.seconds = time.perf_counter() - start
    return report


def examine(feats: PhotoFeatures, data_dir: str, classes: list[str], display_names: list[str], backbone: str,
            callback: Callback = ignore, cancel: Optional[CancelToken] = None) -> DoctorReport:
    """The doctor's findings from the photos' features (diagnose without the scan and the feature cache)."""
    start = time.perf_counter()
    report = DoctorReport(data_dir, backbone, list(classes), list(display_names), len(feats.paths),
                          unreadable=feats.unreadable)
    nn_idx, nn_sim = nearest_neighbours(feats.features, NEIGHBOURS, callback, cancel)
    issues, report.probe_accuracy, report.notes = find_label_issues(
        feats, classes, nn_idx, nn_sim, callback, cancel)
    duplicates = find_duplicates(feats.paths, feats.parts, nn_idx, nn_sim, callback, cancel)
    centres = class_centres(feats.features, feats.labels, len(classes))
    outliers = _outliers(feats, classes, centres, nn_sim)
    report.typical = {cls: [feats.paths[i] for i in rows] for cls, rows in
                      zip(classes, typical_photos(feats.features, feats.labels, centres, TYPICAL))}
    keeps = read_keeps(data_dir)
    report.label_issues = [i for i in issues if keep_key(data_dir, Finding.LABEL, i.path) not in keeps]
    report.duplicates = [d for d in duplicates
                         if keep_key(data_dir, Finding.DUPLICATE, d.path_a, d.path_b) not in keeps]
    report.outliers = [o for o in outliers if keep_key(data_dir, Finding.OUTLIER, o.path) not in keeps]
    report.kept = len(issues) + len(duplicates) + len(outliers) - (
        len(report.label_issues) + len(report.duplicates) + len(report.outliers))
    report.seconds = time.perf_counter() - start
    return report


def _outliers(feats: PhotoFeatures, classes: list[str], centres: np.ndarray, nn_sim: np.ndarray) -> list[Outlier]:
    if len(feats.paths) < 3:
        return []  # no spread to measure "far" against
    score, near, to_class = outlier_scores(feats.features, centres, nn_sim)
    found = [Outlier(feats.paths[i], classes[feats.labels[i]], float(score[i]), float(near[i]),
                     float(to_class[i]), feats.parts[i])
             for i in np.flatnonzero(score <= OUTLIER_Z)]
    return sorted(found, key=lambda o: o.score)
