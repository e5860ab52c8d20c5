"""Backbone features of every photo of a scanned dataset, from (and into) the training feature cache.

The doctor looks at the photos the way the frozen stage does: the clean (unaugmented) view, in
the cache files training uses (train photos in "train0", validation in "val"), so after a
training run the doctor decodes nothing; test photos get a "test" file of their own.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from flowerstudio.core.foundation.config import TrainConfig
from flowerstudio.core.photos.scan import DatasetScan
from flowerstudio.core.foundation.events import BadImage, Callback, CancelToken, ignore
from flowerstudio.core.foundation.vocab import Part



@dataclass
class PhotoFeatures:
    """One row per photo that decoded: its path, class index, part (train/val/test) and unit-length features."""

    paths: list[str]
    labels: np.ndarray  # int64 [N]
    parts: list[Part]
    features: np.ndarray  # float32 [N, D], each row L2-normalised
    unreadable: list[tuple[str, str]] = field(default_factory=list)  # (path, reason), left out


def photo_features(scan: DatasetScan, config: TrainConfig, callback: Callback = ignore,
                   cancel: Optional[CancelToken] = None) -> PhotoFeatures:
    """Features of every photo in ``scan`` (train, val and test) for ``config``'s backbone and input size."""
    from flowerstudio.core.model.classifier import build_classifier, resolve_device, to_device
    from flowerstudio.core.model.preprocessing import Preprocessing
    from flowerstudio.core.runtime.featurecache import cache_for, entry_name
    from flowerstudio.core.runtime.transforms import eval_transform

    cfg = copy.deepcopy(config)
    cfg.resume_from = None  # the pretrained backbone: the features every stage starts from
    cancel = cancel or CancelToken()
    device = resolve_device(cfg.device)
    pre = Preprocessing.for_run(cfg)  # the frozen stage's: the features training caches
    model = build_classifier(cfg.backbone, max(len(scan.classes), 1), pretrained=True, weights_file=cfg.weights,
                             callback=callback, cancel=cancel)
    backbone = to_device(model.backbone.eval(), device)
    transform = eval_transform(pre)
    cache = cache_for(cfg, callback)
    bad: dict[str, str] = {}

    def note(event) -> None:
        if isinstance(event, BadImage):
            bad[event.path] = event.reason
        callback(event)

    rows, paths, labels, parts = [], [], [], []
    for part in Part:
        samples = scan.samples(part)
        if not samples:
            continue
        feats, ok = cache.features(entry_name(part), [s.path for s in samples], [s.label for s in samples], transform,
                                   backbone=backbone, device=device, batch_size=cfg.batch_size, workers=cfg.workers,
                                   callback=note, cancel=cancel, label=f" ({part})",
                                   min_side=pre.resize)
        ok = ok.numpy()
        rows.append(feats.float().numpy()[ok])
        kept = [s for s, good in zip(samples, ok) if good]
        paths += [s.path for s in kept]
        labels += [s.label for s in kept]
        parts += [part] * len(kept)
    x = np.concatenate(rows) if rows else np.zeros((0, 1), np.float32)
    x /= np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    unreadable = sorted({**dict(scan.unreadable), **bad}.items())
    return PhotoFeatures(paths, np.asarray(labels, dtype=np.int64), parts, x.astype(np.float32, copy=False),
                         unreadable)
