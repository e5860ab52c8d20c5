"""The epoch loop: train on the source's batches, validate, tell the run writer how the epoch ended.

Each epoch's validation result is counted exactly (photos right of photos validated); the run writer
keeps the best (runs/writer.py). The best epoch's validation logits are returned: calibration fits its
temperature on them and the advice reads its mix-ups from them, so neither runs the photos again.
"""
from __future__ import annotations

import math
import time
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Optional, Union

import torch
from torch import nn

from flowerstudio.core.foundation.errors import UserError
from flowerstudio.core.foundation.events import (
    Cancelled, CancelToken, EpochEnd, EpochMetrics, Meter, PhaseStarted, Progress,
)
from flowerstudio.core.foundation.vocab import LogLevel, Phase, Status
from flowerstudio.core.model.model_file import ModelInfo
from flowerstudio.core.runs.resume_state import ResumeState
from flowerstudio.core.training.report import Reporter
from flowerstudio.core.training.setup import Setup
from flowerstudio.core.training.sources import FeatureSource, ImageSource
from flowerstudio.core.training.step import Step
from flowerstudio.core.training.stop_hooks import stop_inside_steps

Source = Union[FeatureSource, ImageSource]
# What best.safetensors and last.safetensors say until the stage's end fits a temperature.
NOT_FITTED = ("temperature not fitted (it is fitted for the best model when its stage ends): confidences are "
              "the raw softmax (T = 1)")


@dataclass(frozen=True)
class FitOutcome:
    """``best_val``: the (logits, labels) of this stage's best epoch, if the run's best epoch is in this
    stage; ``photos_per_second``: training photos a second, measured over the stage's training passes;
    ``status``: CANCELLED when a stop ended the epochs early."""

    best_val: Optional[tuple[torch.Tensor, torch.Tensor]]
    photos_per_second: float
    status: Status = Status.COMPLETED


class StageClock:
    """Seconds left in the whole stage, from the time each epoch has taken (the first one extrapolated
    from its own batches, with a validation pass in proportion to the validation photos)."""

    def __init__(self, epochs: int, val_share: float) -> None:
        self.epochs_left, self.val_share = epochs, val_share
        self.epoch_seconds: Optional[float] = None

    def eta(self, done: int, total: int, elapsed: float) -> Optional[float]:
        if done <= 0:
            return None
        per_step = elapsed / done
        epoch = self.epoch_seconds or per_step * total * (1 + self.val_share)
        this_epoch = max(epoch - elapsed, per_step * (total - done))
        return this_epoch + (self.epochs_left - 1) * epoch

    def epoch_done(self, seconds: float) -> None:
        self.epoch_seconds = seconds if self.epoch_seconds is None else 0.5 * (self.epoch_seconds + seconds)
        self.epochs_left -= 1


def fit(setup: Setup, source: Source, step: Step, report: Reporter, cancel: CancelToken) -> FitOutcome:
    """Train the stage's remaining epochs; a stop ends them at the next batch, or inside the step where that is
    safe (_stop_inside), with status CANCELLED."""
    clock = StageClock(setup.epochs_left, 0.35 * len(setup.scan.val) / max(len(setup.scan.train), 1)
                       if isinstance(source, ImageSource) else 0.0)
    best_val, trained, train_seconds, status = None, 0, 0.0, Status.COMPLETED
    with source.threads(), _stop_inside(setup, source, cancel):
        try:
            for _ in range(setup.epochs_left):
                t0 = time.perf_counter()
                epoch = len(report.writer.history) + 1
                train_loss, train_acc, photos = _train_epoch(setup, source, step, epoch, report, cancel, clock)
                trained, train_seconds = trained + photos, train_seconds + time.perf_counter() - t0
                m, val = _end_epoch(setup, source, report, epoch, train_loss, train_acc, t0)
                clock.epoch_done(m.seconds)
                best_val = val if m.is_best else best_val
        except Cancelled:
            status = Status.CANCELLED
    return FitOutcome(best_val, trained / train_seconds if train_seconds else 0.0, status)


def _stop_inside(setup: Setup, source: Source, cancel: CancelToken):
    """The cancel token checked inside each step too (stop_hooks.py), where a step is long and one process
    trains: photos through the backbone. Under torchrun the processes agree between batches only; steps on
    cached features take microseconds."""
    if setup.dist.enabled or not isinstance(source, ImageSource):
        return nullcontext()
    return stop_inside_steps(setup.model, setup.config.backbone, cancel)


def _end_epoch(setup: Setup, source: Source, report: Reporter, epoch: int, train_loss: float, train_acc: float,
               t0: float) -> tuple[EpochMetrics, tuple[torch.Tensor, torch.Tensor]]:
    """Validate, step the schedule, and let the run writer record the epoch (and keep it if it is the best)."""
    logits, labels = source.validate(epoch)
    correct, total = int((logits.argmax(1) == labels).sum()), int(labels.shape[0])
    val_loss = nn.functional.cross_entropy(logits, labels).item() if total else math.nan
    lr = setup.optimizer.param_groups[0]["lr"]
    setup.scheduler.step()
    m = EpochMetrics(epoch, setup.config.train_mode, train_loss, train_acc, val_loss, correct / max(total, 1), lr,
                     time.perf_counter() - t0, val_correct=correct, val_total=total)
    resume = ResumeState(epoch, setup.first_epoch, setup.optimizer.state_dict(), setup.scheduler.state_dict(),
                         torch.get_rng_state())
    m = report.writer.epoch_ended(m, setup.model, model_info(setup, m), resume)
    report.emit(EpochEnd(m))
    report.say(f"epoch {m.epoch}: train loss {m.train_loss:.3f} acc {m.train_acc:.1%}, val loss "
               f"{m.val_loss:.3f} acc {m.val_acc:.1%} ({correct}/{total}){'  (best)' if m.is_best else ''}")
    return m, (logits, labels)


def _train_epoch(setup: Setup, source: Source, step: Step, epoch: int, report: Reporter, cancel: CancelToken,
                 clock: StageClock) -> tuple[float, float, int]:
    """One pass over the training batches; on CUDA an out-of-memory error halves the batch and starts the
    epoch again (one process only: under torchrun every process would have to agree, so it stops instead)."""
    while True:
        try:
            return _train_pass(setup, source, step, epoch, report, cancel, clock)
        except torch.cuda.OutOfMemoryError as exc:
            if setup.dist.enabled or source.batch_size == 1:
                raise UserError(f"The GPU ran out of memory at batch size {source.batch_size}: train again with a "
                                "smaller batch size (--batch-size, or Advanced on the Train page).") from exc
            source.batch_size //= 2
            setup.optimizer.zero_grad(set_to_none=True)
            torch.cuda.empty_cache()
            report.say(f"GPU out of memory: batch size halved to {source.batch_size}; epoch {epoch} restarts",
                       LogLevel.WARNING)


def _train_pass(setup: Setup, source: Source, step: Step, epoch: int, report: Reporter, cancel: CancelToken,
                clock: StageClock) -> tuple[float, float, int]:
    total = source.steps()
    meter = Meter(total)
    report.emit(PhaseStarted(Phase.TRAIN, total, epoch, setup.config.train_mode))
    source.net.train()
    loss_sum = correct = seen = 0.0
    for batch in source.batches(epoch):
        if setup.dist.any(cancel.cancelled):
            raise Cancelled()
        meter.step()
        if batch is None:
            if setup.dist.enabled:
                step.empty(setup.config.input_size)
            continue
        r = step(*batch)
        loss_sum, correct, seen = loss_sum + r.loss * r.photos, correct + r.correct, seen + r.photos
        if meter.done % source.progress_every == 0 or meter.done == total:
            elapsed = time.perf_counter() - meter.start
            report.emit(Progress(Phase.TRAIN, meter.done, total, epoch, loss=loss_sum / seen, eta=meter.eta,
                                 stage_eta=clock.eta(meter.done, total, elapsed)))
    loss_sum, correct, seen = setup.dist.sum(loss_sum, correct, seen)
    return loss_sum / max(seen, 1), correct / max(seen, 1), int(seen)


def model_info(setup: Setup, m: EpochMetrics) -> ModelInfo:
    """What the model files of epoch ``m`` say about the model."""
    cfg, pre, scan = setup.config, setup.preprocessing, setup.scan
    return ModelInfo(backbone=cfg.backbone, classes=list(scan.classes), display_names=list(scan.display_names),
                     input_size=pre.input_size, mean=list(pre.mean), std=list(pre.std), resize=pre.resize,
                     best_val_acc=m.val_acc, val_correct=m.val_correct, val_total=m.val_total,
                     val_loss=m.val_loss if math.isfinite(m.val_loss) else None,
                     epoch=m.epoch, stage=m.stage, config=cfg.to_dict(), calibration=NOT_FITTED)
