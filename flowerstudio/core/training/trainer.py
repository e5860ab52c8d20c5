"""The training engine's front door: ``train`` runs one stage (frozen, last stages, or all layers), ``resume``
finishes an interrupted one. The parts, in the order they run:

    setup.py      what the stage decides before its first step (photos and split, run folder, model, optimizer)
    sources.py    where batches come from (cached features, or photos augmented every epoch)
    step.py       one training step, the same for every stage and the learning-rate finder
    fit.py        the epoch loop; the run writer (runs/writer.py) keeps the best epoch
    calibrate.py  the temperature of the best model, fitted when the stage ends

A stop (the cancel token, checked every batch) ends the stage like its last epoch: the best model is
kept, calibrated and written; then ``Cancelled`` is raised with that result (``Status.CANCELLED``).
"""
from __future__ import annotations

import copy
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from flowerstudio.core.foundation.config import TrainConfig
from flowerstudio.core.foundation.events import Callback, Cancelled, CancelToken, EpochMetrics, Score, ignore
from flowerstudio.core.foundation.notify import reporting_to
from flowerstudio.core.foundation.vocab import LogLevel, Status, TrainMode
from flowerstudio.core.model.calibration import TemperatureFit
from flowerstudio.core.model.model_file import read_model_info
from flowerstudio.core.runs import folders
from flowerstudio.core.runs.resume_state import ResumeState
from flowerstudio.core.runs.writer import RunWriter
from flowerstudio.core.runtime.distributed import Distributed
from flowerstudio.core.training import speeds
from flowerstudio.core.training.calibrate import calibrate
from flowerstudio.core.training.fit import FitOutcome, fit
from flowerstudio.core.training.report import Reporter
from flowerstudio.core.training.setup import Setup, prepare
from flowerstudio.core.training.sources import FeatureSource, ImageSource
from flowerstudio.core.training.step import Step


@dataclass
class TrainResult:
    """How a stage ended, and the run's best model after it.

    ``best`` is the run's best model's validation score (all stages); ``before`` the best of the stages
    before this one (None for a run's first stage): ``best`` is ``before`` when this stage gained nothing.
    ``confusion``: the best model's validation confusion matrix (rows: true class), from its own epoch.
    ``calibration``: the temperature fitted now; None when none was (the best model has its own).
    """

    status: Status
    run_dir: str
    stage: TrainMode
    best_path: Optional[str]
    best: Optional[Score]
    best_epoch: int
    history: list[EpochMetrics] = field(default_factory=list)
    bad_images: list[tuple[str, str]] = field(default_factory=list)
    calibration: Optional[TemperatureFit] = None
    before: Optional[Score] = None
    confusion: Optional[list[list[int]]] = None
    classes: list[str] = field(default_factory=list)
    display_names: list[str] = field(default_factory=list)
    train_photos: int = 0  # in the run's split, this stage
    photos_per_second: float = 0.0  # training photos a second, as measured in this stage

    @property
    def best_val_acc(self) -> float:
        return self.best.accuracy if self.best is not None else 0.0

    @property
    def gained(self) -> bool:
        """Whether this stage made a better model than the stages before it (a first stage always does)."""
        return self.best is not None and (self.before is None or self.best.beats(self.before))


def train(config: TrainConfig, callback: Callback = ignore, cancel: Optional[CancelToken] = None,
          split_file: str | os.PathLike | None = None) -> TrainResult:
    """Run one training stage as ``config`` says; see TrainConfig for every field.

    ``config`` itself is left as it is; the run's resolved copy is its config.json.
    ``split_file``: another run's split.json to keep (a retrain): the photos it lists keep their side,
    photos added since go to training.
    """
    cfg = copy.deepcopy(config).validate()
    return _run(cfg, callback, cancel or CancelToken(), split_file=Path(split_file) if split_file else None)


def resume(run_dir: str | os.PathLike, callback: Callback = ignore,
           cancel: Optional[CancelToken] = None) -> TrainResult:
    """Finish a stage that was interrupted (killed, crashed, stopped) from its last epoch: last weights,
    optimizer, scheduler and RNG state, the epochs it still had to run, the run's own split."""
    from flowerstudio.core.runs.record import RunRecord

    record = RunRecord.load(run_dir)
    state = ResumeState.load(Path(run_dir) / folders.LAST_STATE)
    cfg = record.config
    cfg.resume_from = str(Path(run_dir) / folders.LAST)
    return _run(cfg.validate(), callback, cancel or CancelToken(), resume=state)


def _run(cfg: TrainConfig, callback: Callback, cancel: CancelToken, resume: Optional[ResumeState] = None,
         split_file: Optional[Path] = None) -> TrainResult:
    dist = Distributed.from_env(cfg.device)
    report = Reporter(callback, RunWriter(callback), dist.is_main)
    try:
        with reporting_to(report.emit):  # warnings the core logs meanwhile reach the caller and train.log
            setup = prepare(cfg, report, cancel, dist, resume, split_file)
            outcome, fitted = _train_stage(setup, report, cancel)
        dist.barrier()  # the best file is complete before any process reads it
        result = _result(setup, report, outcome, fitted)
        if result.status == Status.CANCELLED:
            raise Cancelled(result)
        return result
    finally:
        report.writer.close()  # a no-op after _train_stage closed it; writes the log when prepare failed
        dist.close()


def _train_stage(setup: Setup, report: Reporter, cancel: CancelToken
                 ) -> tuple[FitOutcome, Optional[TemperatureFit]]:
    """Fit, then calibrate; a stop at any point still ends with the best model calibrated and written."""
    source, outcome = None, FitOutcome(None, 0.0, Status.CANCELLED)
    try:
        try:
            kind = FeatureSource if setup.config.trains_on_cached_features else ImageSource
            source = kind(setup, report, cancel)
            step = Step(source.net, setup.optimizer, setup.device, setup.config.label_smoothing,
                        source.mixed_precision)
            outcome = fit(setup, source, step, report, cancel)
        except Cancelled:
            pass
        if outcome.status == Status.CANCELLED:
            report.say("Training stopped; the best model so far is kept.", LogLevel.WARNING)
        fitted = calibrate(setup, report, outcome.best_val,
                           (lambda: source.validate(len(report.writer.history))) if source is not None else None)
        if outcome.best_val is not None:
            report.writer.update_best(val_confusion=_confusion(*outcome.best_val, len(setup.scan.classes)))
    finally:
        report.writer.close()
    return outcome, fitted


def _confusion(logits, labels, n: int) -> list[list[int]]:
    cm = [[0] * n for _ in range(n)]
    for t, p in zip(labels.tolist(), logits.argmax(1).tolist()):
        cm[t][p] += 1
    return cm


def _result(setup: Setup, report: Reporter, outcome: FitOutcome, fitted: Optional[TemperatureFit]) -> TrainResult:
    writer, scan, cfg = report.writer, setup.scan, setup.config
    if not cfg.trains_on_cached_features and outcome.photos_per_second and setup.dist.is_main:
        speeds.record(cfg.backbone, setup.device.type, cfg.input_size, cfg.train_mode, outcome.photos_per_second)
    best = writer.best_path
    info = read_model_info(best) if best.is_file() else None
    return TrainResult(
        outcome.status, str(setup.run_dir), setup.config.train_mode, str(best) if info else None,
        writer.best, writer.best_epoch, list(writer.history), sorted(report.bad.items()), fitted,
        writer.best_before, info.val_confusion if info else None, list(scan.classes), list(scan.display_names),
        len(scan.train), outcome.photos_per_second,
    )
