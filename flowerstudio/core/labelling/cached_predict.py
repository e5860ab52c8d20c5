"""Predictions from the feature cache: for a frozen-stage model only the head runs.

A model trained by the frozen stage keeps the pretrained backbone as it was, so a photo's
features are the ones the feature cache holds for that backbone and recipe. After the review
loop's retrain (retrain.py) only the head has changed: refreshing the predictions of photos
already seen is one matrix product. Photos not in the cache yet go through the backbone once
and are cached, so the first labelling of a folder costs about what Predictor costs.

The features are stored in float16, as the frozen stage trains on them, so probabilities differ
from Predictor's (float32 throughout) by up to about 2e-4 (benchmarks/README.md, review_loop).
"""
from __future__ import annotations

import os
from typing import Optional, Sequence

import torch

from flowerstudio.core.model.model_file import ModelInfo, load_model, read_model_info
from flowerstudio.core.foundation.config import ConfigError, TrainConfig
from flowerstudio.core.foundation.events import (
    BadImage, Callback, Cancelled, CancelToken, Meter, PhaseStarted, PredictionBatch, Progress, ignore,
)
from flowerstudio.core.model.preprocessing import Preprocessing
from flowerstudio.core.runtime.featurecache import MISSING, PHOTOS, cache_for
from flowerstudio.core.model.classifier import resolve_device, to_device
from flowerstudio.core.labelling.predict import TOP_K, PredictResult, Predictor, make_predictions
from flowerstudio.core.runtime.transforms import eval_transform
from flowerstudio.core.foundation.vocab import Phase, Status, TrainMode

CHUNK = 512  # photos per step: each step writes the cache once and sends its predictions


def cached_stage_config(info: ModelInfo) -> Optional[TrainConfig]:
    """The frozen-stage config of a model whose backbone is the registry's pretrained one, else None.

    Only then are the cached features this model's: a stage that started from another model
    file or a local weights file has a backbone the cache key cannot vouch for later.
    """
    if info.stage != TrainMode.FROZEN:
        return None
    try:
        cfg = TrainConfig.from_dict(info.config)
    except (ConfigError, TypeError):  # a config from another version, or none
        return None
    same = (cfg.train_mode == TrainMode.FROZEN and not cfg.resume_from and not cfg.weights
            and cfg.backbone == info.backbone and Preprocessing.for_run(cfg) == info.preprocessing)
    return cfg if same else None


def fast_predictor(model_path: str | os.PathLike, device: str = "auto"):
    """The quickest way to label photos with this model: a CachedPredictor for a frozen-stage model
    on the pretrained backbone, else a Predictor. Both have ``info`` and the same ``predict``."""
    if cached_stage_config(read_model_info(model_path)) is not None:
        return CachedPredictor(model_path, device)
    return Predictor(model_path, device)


class CachedPredictor:
    """Labels photos like Predictor (same ``info``, same ``predict``), from cached features."""

    def __init__(self, model_path: str | os.PathLike, device: str = "auto") -> None:
        model, self.info = load_model(model_path)
        cfg = cached_stage_config(self.info)
        if cfg is None:
            raise ValueError(f"{model_path}: not a frozen-stage model on the pretrained backbone; use Predictor")
        self.device = resolve_device(device)
        self.model = to_device(model, self.device)  # the backbone runs only for photos not in the cache
        self.cache = cache_for(cfg)
        # The model's own preprocessing: the features it trained and fitted T on.
        pre = self.info.preprocessing
        self.transform, self.min_side = eval_transform(pre), pre.resize

    def predict(
        self,
        paths: Sequence[str],
        batch_size: int = 32,
        top_k: int = TOP_K,
        callback: Callback = ignore,
        cancel: Optional[CancelToken] = None,
    ) -> PredictResult:
        """As Predictor.predict (photos not in the cache are decoded on this thread). A photo
        missing from the disk is listed as unreadable."""
        cancel = cancel or CancelToken()
        k = max(1, min(top_k, self.info.num_classes))
        result = PredictResult([], [])
        handled: set[int] = set()
        meter = Meter(len(paths))
        callback(PhaseStarted(Phase.PREDICT, len(paths)))
        try:
            for start in range(0, len(paths), CHUNK):
                cancel.raise_if_cancelled()
                chunk = list(range(start, min(start + CHUNK, len(paths))))
                here = [i for i in chunk if os.path.isfile(paths[i])]  # a photo deleted under review is skipped
                for i in sorted(set(chunk) - set(here)):
                    result.unreadable.append((paths[i], MISSING))
                    callback(BadImage(paths[i], MISSING))
                batch = self._chunk(paths, here, k, batch_size, result, meter, callback, cancel) if here else ()
                handled.update(chunk)
                meter.done = len(handled)
                if batch:
                    callback(PredictionBatch(batch))
                callback(Progress(Phase.PREDICT, meter.done, meter.total, eta=meter.eta))
        except Cancelled:
            result.status = Status.CANCELLED
            done = {p.path for p in result.predictions} | {p for p, _ in result.unreadable}
            result.not_done = [p for i, p in enumerate(paths) if i not in handled and p not in done]
            raise Cancelled(result) from None  # what was labelled before the stop comes with it
        return result

    def _chunk(self, paths, here: list[int], k: int, batch_size: int, result: PredictResult, meter: Meter,
               callback: Callback, cancel: CancelToken) -> tuple:
        """Predict the photos ``here`` (indices into ``paths``); unreadable ones go to ``result``."""
        reasons: dict[str, str] = {}
        done_before = meter.done

        def relay(event) -> None:
            # Extraction of uncached photos shows as progress of the prediction itself.
            if isinstance(event, BadImage):
                reasons[event.path] = event.reason
                callback(event)
            elif isinstance(event, Progress):
                callback(Progress(Phase.PREDICT, done_before + event.done, meter.total))

        chunk_paths = [paths[i] for i in here]
        feats, ok = self.cache.features(PHOTOS, chunk_paths, [0] * len(here), self.transform, self.model.backbone,
                                        self.device, batch_size, callback=relay, cancel=cancel,
                                        min_side=self.min_side)
        good = [p for p, keep in zip(chunk_paths, ok.tolist()) if keep]
        result.unreadable += [(p, reasons.get(p, "unreadable")) for p, keep in zip(chunk_paths, ok.tolist())
                              if not keep]
        with torch.inference_mode():
            logits = self.model.head(feats[ok].to(self.device).float()).float().cpu()
        batch = make_predictions(good, logits, self.info, k, result.unreadable, callback)
        result.predictions.extend(batch)
        return batch
