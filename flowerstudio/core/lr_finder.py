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
from typing import Iterator, Optional

import numpy as np
import torch
from torch import nn

from flowerstudio.core import runs
from flowerstudio.core.config import TrainConfig
from flowerstudio.core.dataset import DatasetError, scan_dataset
from flowerstudio.core.events import (
    BadImage, Callback, Cancelled, CancelToken, Log, LrPoint, PhaseStarted, Progress, ignore,
)
from flowerstudio.core.models import Classifier, build_classifier, get_spec, resolve_device
from flowerstudio.core.optim import make_optimizer
from flowerstudio.core.transforms import build_eval_transform, build_train_transform, resize_size
from flowerstudio.core.vocab import Phase, TrainMode

BETA = 0.98  # smoothing of the loss curve, as fastai
DIVERGE = 4.0  # stop once the smoothed loss exceeds this many times the best so far ...
# ... and this many nats: a head that already fits its photos starts near 0.0005, where noise alone is 4x.
LOSS_FLOOR = 0.1


@dataclass
class LRFinderResult:
    """lrs and smoothed losses step by step; ``suggested_lr`` is the steepest descent of the curve.

    ``stopped_early``: the loss diverged (or the test was cancelled) before ``num_steps``.
    """

    lrs: list[float]
    losses: list[float]
    suggested_lr: float
    stopped_early: bool
    cancelled: bool = False


def find_lr(
    config: TrainConfig,
    start_lr: float = 1e-7,
    end_lr: float = 1.0,
    num_steps: int = 100,
    callback: Callback = ignore,
    cancel: Optional[CancelToken] = None,
) -> LRFinderResult:
    """Run the range test for ``config``'s stage (backbone, train_mode, optimizer, data)."""
    cfg = copy.deepcopy(config).validate()  # _build may adjust it; the caller's stays as it was
    if not 0 < start_lr < end_lr:
        raise ValueError(f"need 0 < start_lr < end_lr, got {start_lr} and {end_lr}")
    if num_steps < 2:
        raise ValueError(f"num_steps must be at least 2, got {num_steps}")
    cancel = cancel or CancelToken()
    torch.manual_seed(cfg.seed)
    device = resolve_device(cfg.device)
    try:
        # No split file is saved: a range test leaves no trace in any run.
        scan = scan_dataset(cfg.data_dir, cfg.names_file, cfg.val_fraction, cfg.split_seed, callback=callback,
                            cancel=cancel)
        if not scan.train:
            raise DatasetError(f"{cfg.data_dir}: no training photos")
        model = _build(cfg, len(scan.classes), callback).to(device)
        model.set_trainable(cfg.train_mode, cfg.unfreeze_stages, cfg.freeze_bn_stats)
        paths, labels = [s.path for s in scan.train], [s.label for s in scan.train]
        if cfg.trains_on_cached_features:
            batches, net = _cached_batches(cfg, model, paths, labels, device, callback, cancel), model.head
        else:
            batches, net = _image_batches(cfg, paths, labels, device, callback), model
        return _sweep(cfg, net, batches, start_lr, end_lr, num_steps, callback, cancel)
    except Cancelled:
        return LRFinderResult([], [], start_lr, stopped_early=True, cancelled=True)


def _build(cfg: TrainConfig, num_classes: int, callback: Callback) -> Classifier:
    """The starting weights the trainer would use for this stage (an in-memory copy)."""
    if cfg.resume_from:
        from flowerstudio.core.checkpoints import load_model

        model, info = load_model(runs.resolve_model_path(cfg.resume_from, cfg.output_dir or None))
        if info.num_classes != num_classes:
            raise DatasetError(f"{cfg.resume_from} has {info.num_classes} classes, {cfg.data_dir} has {num_classes}")
        cfg.backbone = info.backbone
        return model
    return build_classifier(cfg.backbone, num_classes, pretrained=True, weights_file=cfg.weights, callback=callback)


def _cached_batches(cfg, model, paths, labels, device, callback, cancel) -> Iterator:
    """Shuffled batches of cached features of the clean photos (the trainer's view 0).

    Extracts missing features now, before the sweep starts, so its events come first.
    """
    from flowerstudio.core.featurecache import cache_for

    spec = get_spec(cfg.backbone)
    cache = cache_for(cfg)
    eval_tf = build_eval_transform(cfg.input_size, spec.mean, spec.std, cfg.augment)
    feats, ok = cache.features("train0", paths, labels, eval_tf, backbone=model.backbone, device=device,
                               batch_size=cfg.batch_size, workers=cfg.workers, callback=callback, cancel=cancel,
                               label=" (view 1)", min_side=resize_size(cfg.input_size, cfg.augment))
    x = feats[ok].to(device).float()
    y = torch.tensor(labels, device=device)[ok.to(device)]
    if len(y) == 0:
        raise DatasetError(f"{cfg.data_dir}: no readable training photos")
    return _shuffled(x, y, cfg.batch_size, cfg.seed)


def _shuffled(x: torch.Tensor, y: torch.Tensor, batch_size: int, seed: int) -> Iterator:
    gen = torch.Generator().manual_seed(seed)
    while True:
        order = torch.randperm(len(y), generator=gen).to(y.device)
        for i in range(0, len(y), batch_size):
            idx = order[i:i + batch_size]
            yield x[idx], y[idx]


def _image_batches(cfg, paths, labels, device, callback) -> Iterator:
    """Augmented image batches, epoch after epoch, as the trainer's loader makes them."""
    from flowerstudio.core.loader import ImageDataset, make_loader

    spec = get_spec(cfg.backbone)
    ds = ImageDataset(paths, labels, build_train_transform(cfg.augment, cfg.input_size, spec.mean, spec.std),
                      resize_size(cfg.input_size, cfg.augment))
    epoch, seen_good = 0, False
    while True:
        epoch += 1
        for batch in make_loader(ds, cfg.batch_size, True, cfg.workers, cfg.seed + epoch):
            for j, reason in batch.bad:
                callback(BadImage(ds.paths[j], reason))
            if batch.images is not None:
                seen_good = True
                yield batch.images.to(device), batch.labels.to(device)
        if not seen_good:
            raise DatasetError(f"{cfg.data_dir}: no readable training photos")


def _optimizer(cfg: TrainConfig, net: nn.Module) -> torch.optim.Optimizer:
    # The trainer's optimizer choice and per-group lr ratios (head vs backbone).
    if isinstance(net, Classifier):
        groups = net.param_groups(1.0, cfg.backbone_lr_factor)
    else:
        groups = [{"params": [p for p in net.parameters() if p.requires_grad], "lr": 1.0}]
    for g in groups:
        g["factor"] = g["lr"]
    return make_optimizer(cfg, groups)


def _sweep(cfg, net, batches, start_lr, end_lr, num_steps, callback, cancel) -> LRFinderResult:
    opt = _optimizer(cfg, net)
    loss_fn = nn.CrossEntropyLoss(label_smoothing=cfg.label_smoothing)
    ratio = math.log(end_lr / start_lr) / (num_steps - 1)
    lrs: list[float] = []
    losses: list[float] = []
    avg, best, stopped, cancelled = 0.0, math.inf, False, False
    net.train()
    callback(PhaseStarted(Phase.LR_FIND, num_steps))
    for step in range(num_steps):
        if cancel.cancelled:  # keep what was measured so far
            cancelled = True
            break
        lr = start_lr * math.exp(ratio * step)
        for g in opt.param_groups:
            g["lr"] = lr * g["factor"]
        x, y = next(batches)
        loss = loss_fn(net(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        avg = BETA * avg + (1 - BETA) * loss.item()
        smoothed = avg / (1 - BETA ** (step + 1))  # bias correction: early steps are not pulled to 0
        lrs.append(lr)
        losses.append(smoothed)
        callback(Progress(Phase.LR_FIND, step + 1, num_steps, loss=smoothed))
        callback(LrPoint(step + 1, num_steps, lr, smoothed))  # the curve, as it grows
        if diverged(smoothed, best):  # best is inf on the first step: only a non-finite loss stops it
            stopped = True
            callback(Log(f"Loss diverged at learning rate {lr:.2e}; range test stopped"))
            break
        best = min(best, smoothed)
    return LRFinderResult(lrs, losses, suggest(lrs, losses) if lrs else start_lr, stopped or cancelled, cancelled)


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
