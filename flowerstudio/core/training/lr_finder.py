"""Learning-rate range test (Smith 2015; fastai's lr_find).

Trains a throw-away copy of the model for a few mini-batches while the learning rate
grows exponentially from ``start_lr`` to ``end_lr``, recording the smoothed loss.
The suggestion is where the loss falls fastest. Nothing is written to any run
folder; the frozen stage reads (and fills) the shared feature cache.
"""
from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from typing import Iterator

import numpy as np
import torch

from flowerstudio.core.foundation.config import TrainConfig
from flowerstudio.core.foundation.events import Callback, Cancelled, CancelToken, Log, LrPoint, PhaseStarted, Progress, ignore
from flowerstudio.core.foundation.vocab import Phase, Status
from flowerstudio.core.model.classifier import resolve_device
from flowerstudio.core.model.preprocessing import Preprocessing
from flowerstudio.core.photos.names import DatasetError
from flowerstudio.core.runs.writer import RunWriter
from flowerstudio.core.runtime.distributed import Distributed
from flowerstudio.core.training.optim import make_optimizer, make_scheduler
from flowerstudio.core.training.report import Reporter
from flowerstudio.core.training.setup import Setup, build_model, find_start, scan_for
from flowerstudio.core.training.sources import FeatureSource, ImageSource
from flowerstudio.core.training.step import Step

BETA = 0.98  # smoothing of the loss curve, as fastai
DIVERGE = 4.0  # stop once the smoothed loss exceeds this many times the best so far ...
# ... and this many nats: a head that already fits its photos starts near 0.0005, where noise alone is 4x.
LOSS_FLOOR = 0.1


@dataclass
class LRFinderResult:
    """lrs and smoothed losses step by step; ``suggested_lr`` is the steepest descent of the curve.

    ``stopped_early``: the loss diverged (or the test was stopped) before ``num_steps``.
    """

    lrs: list[float]
    losses: list[float]
    suggested_lr: float
    stopped_early: bool
    status: Status = Status.COMPLETED


def find_lr(config: TrainConfig, start_lr: float = 1e-7, end_lr: float = 1.0, num_steps: int = 100,
            callback: Callback = ignore, cancel: CancelToken | None = None) -> LRFinderResult:
    """Run the range test for ``config``'s stage (backbone, train_mode, optimizer, data, start model).
    A stop raises Cancelled carrying the curve measured so far."""
    cfg = copy.deepcopy(config).validate()  # the start model may set its backbone; the caller's stays as it was
    if not 0 < start_lr < end_lr:
        raise ValueError(f"need 0 < start_lr < end_lr, got {start_lr} and {end_lr}")
    if num_steps < 2:
        raise ValueError(f"num_steps must be at least 2, got {num_steps}")
    cancel = cancel or CancelToken()
    torch.manual_seed(cfg.seed)
    report = Reporter(callback, RunWriter())  # a writer never opened: a range test leaves no trace in any run
    device = resolve_device(cfg.device)
    start = find_start(cfg, report)
    scan = scan_for(cfg, start, None, report, cancel)  # the run's own split when it continues one
    if not scan.train:
        raise DatasetError(f"{cfg.data_dir}: no training photos")
    model = build_model(cfg, scan, start, device, report, cancel)
    groups = model.param_groups(1.0, cfg.backbone_lr_factor)  # each group's lr becomes a factor of the sweep's
    for g in groups:
        g["factor"] = g["lr"]
    opt = make_optimizer(cfg, groups)
    setup = Setup(cfg, Preprocessing.for_run(cfg), device, Distributed(), scan, None, model, opt,
                  make_scheduler(cfg, opt), 1, 0, start)
    try:
        source = (FeatureSource if cfg.trains_on_cached_features else ImageSource)(setup, report, cancel)
    except Cancelled:
        raise Cancelled(LRFinderResult([], [], start_lr, True, Status.CANCELLED)) from None
    step = Step(source.net, opt, device, cfg.label_smoothing, source.mixed_precision)
    with source.threads():
        return _sweep(step, _endless(source, cfg), start_lr, end_lr, num_steps, callback, cancel)


def _endless(source, cfg: TrainConfig) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """The stage's training batches, epoch after epoch."""
    epoch = 0
    while True:
        epoch += 1
        seen_good = False
        for batch in source.batches(epoch):
            if batch is not None:
                seen_good = True
                yield batch
        if not seen_good:
            raise DatasetError(f"{cfg.data_dir}: no readable training photos")


def _sweep(step: Step, batches, start_lr, end_lr, num_steps, callback, cancel) -> LRFinderResult:
    ratio = math.log(end_lr / start_lr) / (num_steps - 1)
    lrs: list[float] = []
    losses: list[float] = []
    avg, best, stopped = 0.0, math.inf, False
    step.net.train()
    callback(PhaseStarted(Phase.LR_FIND, num_steps))
    for i in range(num_steps):
        if cancel.cancelled:  # keep what was measured so far
            raise Cancelled(LRFinderResult(lrs, losses, suggest(lrs, losses) if lrs else start_lr, True,
                                           Status.CANCELLED))
        lr = start_lr * math.exp(ratio * i)
        for g in step.optimizer.param_groups:
            g["lr"] = lr * g["factor"]
        r = step(*next(batches))
        avg = BETA * avg + (1 - BETA) * r.loss
        smoothed = avg / (1 - BETA ** (i + 1))  # bias correction: early steps are not pulled to 0
        lrs.append(lr)
        losses.append(smoothed)
        callback(Progress(Phase.LR_FIND, i + 1, num_steps, loss=smoothed))
        callback(LrPoint(i + 1, num_steps, lr, smoothed))  # the curve, as it grows
        if diverged(smoothed, best):  # best is inf on the first step: only a non-finite loss stops it
            stopped = True
            callback(Log(f"Loss diverged at learning rate {lr:.2e}; range test stopped"))
            break
        best = min(best, smoothed)
    return LRFinderResult(lrs, losses, suggest(lrs, losses) if lrs else start_lr, stopped)


def diverged(loss: float, best: float) -> bool:
    """The smoothed loss blew up: not finite, or DIVERGE times the best so far (or the floor, if higher)."""
    return not math.isfinite(loss) or loss > DIVERGE * max(best, LOSS_FLOOR)


def suggest(lrs: list[float], losses: list[float]) -> float:
    """The lr where the smoothed loss falls fastest against log(lr), ignoring the noisy ends."""
    finite = [(lr, loss) for lr, loss in zip(lrs, losses) if math.isfinite(loss)]
    if len(finite) < 3:
        return finite[0][0] if finite else (lrs[0] if lrs else 0.0)
    lr_arr, loss_arr = np.array(finite).T
    grad = np.gradient(loss_arr, np.log10(lr_arr))
    n = len(grad)
    # The first steps are still warming up the average and the last ones are diverging.
    lo, hi = max(1, n // 10), n - max(1, n // 20)
    if hi <= lo:
        lo, hi = 0, n
    i = lo + int(np.argmin(grad[lo:hi]))
    return float(lr_arr[i])
