"""Batch inference with a saved model: label a folder of new photos."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Iterable, Iterator, Optional, Sequence

import numpy as np
import torch

from flowerstudio.core.model.calibration import calibrated_probs
from flowerstudio.core.foundation.events import (
    BadImage, Callback, Cancelled, CancelToken, Meter, PhaseStarted, PredictionBatch, Progress, ignore,
)
from flowerstudio.core.photos.imageio import ImageLoadError, is_hidden_or_system, is_photo_file, load_image
from flowerstudio.core.runtime.inference import InferenceNet
from flowerstudio.core.runtime.loader import decoded, decoding_plan
from flowerstudio.core.model.classifier import resolve_device
from flowerstudio.core.runtime.transforms import eval_transform
from flowerstudio.core.foundation.vocab import InferenceEngine, Phase, Status

# How many of the most likely classes a prediction lists: the gallery's detail, the CSV, the CLI.
TOP_K = 5
NOT_FINITE = "the model's output for this photo is not a finite number"


@dataclass(frozen=True)
class Prediction:
    """One photo's label. ``label`` indexes the model's classes; ``probs`` holds every class's probability.

    ``true_label``: the class of the folder the photo sits in, when that folder is named after one
    of the model's classes (see true_label()); None for an unlabelled photo.

    ``confidence``, ``topk`` and ``probs`` are calibrated: softmax(logits / T) with the model's
    temperature T (calibration.py); ``logits`` are the network's raw outputs.
    """

    path: str
    label: int
    name: str
    confidence: float
    topk: tuple[tuple[str, float], ...]
    probs: Optional[np.ndarray] = field(default=None, compare=False, repr=False)
    true_label: Optional[int] = None
    logits: Optional[np.ndarray] = field(default=None, compare=False, repr=False)

    @property
    def correct(self) -> Optional[bool]:
        """Whether the label is the folder's class; None when the folder is no class."""
        return None if self.true_label is None else self.label == self.true_label


@dataclass
class PredictResult:
    """Every photo asked for ends up in exactly one list; ``not_done`` only when stopped (CANCELLED).

    Each prediction here was also sent in one PredictionBatch event before predict() returned.
    """

    predictions: list[Prediction]
    unreadable: list[tuple[str, str]]
    status: Status = Status.COMPLETED
    not_done: list[str] = field(default_factory=list)

    @property
    def cancelled(self) -> bool:
        return self.status == Status.CANCELLED


def list_images(inputs: Sequence[str | os.PathLike], recursive: bool = True) -> list[str]:
    """Image files among ``inputs`` (files or folders), skipping hidden and system entries, sorted.
    Photos in formats the app cannot read here are listed too: labelling reports them, with why."""
    found: list[str] = []
    for item in inputs:
        item = str(item)
        if os.path.isdir(item):
            for dirpath, dirnames, filenames in os.walk(item):
                dirnames[:] = sorted(d for d in dirnames if not is_hidden_or_system(d)) if recursive else []
                found += [os.path.join(dirpath, f) for f in sorted(filenames)
                          if is_photo_file(f) and not is_hidden_or_system(f)]
        elif os.path.isfile(item) and not is_hidden_or_system(os.path.basename(item)):
            found.append(item)
    return found


class Predictor:
    """Loads a model file once; labels any number of photos in batches.

    ``engine`` runs the network (inference.py): ``auto`` is ONNX Runtime on CPU, PyTorch on CUDA.
    """

    def __init__(self, model_path: str | os.PathLike, device: str = "auto",
                 engine: InferenceEngine | str = InferenceEngine.AUTO) -> None:
        from flowerstudio.core.model.model_file import load_model, read_model_info
        from flowerstudio.core.runtime.inference import choose_engine, graph_is_cached, model_file_key

        self.device = resolve_device(device)
        self.info = read_model_info(model_path)
        # The file's content names its ONNX graph; hashing it is for ONNX Runtime only.
        key = model_file_key(model_path) if choose_engine(engine, self.device) == InferenceEngine.ONNXRUNTIME else None
        shape = (3, self.info.input_size, self.info.input_size)
        if key is not None and graph_is_cached(key, shape):
            # This very file ran before: its graph is all it takes (the network is built only if needed).
            self.model = InferenceNet(lambda: load_model(model_path)[0], self.device, engine, key=key)
        else:  # built now, so a file that cannot be a network says so here
            model, self.info = load_model(model_path)
            self.model = InferenceNet(model, self.device, engine, key=key)
        self.transform = eval_transform(self.info.preprocessing)
        self.min_side = self.info.preprocessing.resize

    def _decoded(self, paths: Sequence[str], batch_size: int,
                 workers: Optional[int]) -> Iterator[tuple[int, Optional[torch.Tensor], str]]:
        """(index, tensor or None, error) in order, decoded in threads (Pillow and torch release the GIL
        while they work) ahead of the network or taking turns with it (loader.decoding_plan)."""
        def load(i: int):
            try:
                return i, self.transform(load_image(paths[i], min_side=self.min_side)), ""
            except ImageLoadError as exc:
                return i, None, exc.reason
            except Exception as exc:  # an odd image is reported, not fatal
                return i, None, f"cannot transform image: {exc}"

        threads, ahead = decoding_plan(self.device)
        yield from decoded(load, len(paths), workers or threads, batch_size, ahead)

    def predict(
        self,
        paths: Sequence[str],
        batch_size: int = 32,
        top_k: int = TOP_K,
        callback: Callback = ignore,
        cancel: Optional[CancelToken] = None,
        workers: Optional[int] = None,
    ) -> PredictResult:
        """Label ``paths``; unreadable photos are listed, not fatal. A stop raises Cancelled carrying the
        result so far, with the photos it did not get to in ``not_done``. ``workers``: decoding threads, if not
        loader.decoding_plan's."""
        cancel = cancel or CancelToken()
        handled: set[int] = set()  # indices into paths that are predicted or unreadable
        k = max(1, min(top_k, self.info.num_classes))
        result = PredictResult([], [])
        meter = Meter(len(paths))
        callback(PhaseStarted(Phase.PREDICT, len(paths)))
        pending: list[tuple[int, torch.Tensor]] = []

        def flush() -> None:
            if not pending:
                return
            x = torch.stack([t for _, t in pending])
            with torch.inference_mode():
                logits = self.model(x).float().cpu()
            batch = make_predictions([paths[i] for i, _ in pending], logits, self.info, k, result.unreadable,
                                     callback)
            # In the result and in the event together: a caller never has to match the two up.
            result.predictions.extend(batch)
            handled.update(i for i, _ in pending)
            meter.step(len(pending))
            pending.clear()
            callback(PredictionBatch(batch))
            callback(Progress(Phase.PREDICT, meter.done, meter.total, eta=meter.eta))

        try:
            for i, tensor, error in self._decoded(paths, batch_size, workers):
                cancel.raise_if_cancelled()
                if tensor is None:
                    result.unreadable.append((paths[i], error))
                    handled.add(i)
                    meter.step()
                    callback(BadImage(paths[i], error))
                    continue
                pending.append((i, tensor))
                if len(pending) == batch_size:
                    flush()
            flush()
        except Cancelled:
            result.status = Status.CANCELLED
            result.not_done = [p for i, p in enumerate(paths) if i not in handled]
            raise Cancelled(result) from None  # what was labelled before the stop comes with it
        return result


def make_predictions(paths: Sequence[str], logits: torch.Tensor, info, top_k: int,
                     unreadable: Optional[list] = None, callback: Callback = ignore) -> tuple[Prediction, ...]:
    """One Prediction per photo from the model's ``logits`` [N, classes]; ``info`` is its ModelInfo,
    whose temperature calibrates the probabilities. A photo whose logits are not finite gets no label
    (never a 'nan' confidence): it joins ``unreadable`` with why."""
    finite = torch.isfinite(logits).all(1)
    if not bool(finite.all()):
        for path in (p for p, ok in zip(paths, finite.tolist()) if not ok):
            if unreadable is not None:
                unreadable.append((path, NOT_FINITE))
            callback(BadImage(path, NOT_FINITE))
        paths, logits = [p for p, ok in zip(paths, finite.tolist()) if ok], logits[finite]
    names = info.display_names
    probs = calibrated_probs(logits, info.temperature)
    top_p, top_i = probs.topk(top_k, dim=1)
    return tuple(
        Prediction(path, int(ti[0]), names[int(ti[0])], float(tp[0]),
                   tuple((names[int(c)], float(p)) for c, p in zip(ti, tp)), pr.numpy(),
                   true_label(path, info.classes), z.numpy())
        for path, tp, ti, pr, z in zip(paths, top_p, top_i, probs, logits)
    )


def true_label(path: str, classes: Sequence[str]) -> Optional[int]:
    """The class of a photo in a labelled folder: its parent folder's name, when that is a class."""
    parent = os.path.basename(os.path.dirname(os.path.abspath(path)))
    try:
        return list(classes).index(parent)
    except ValueError:
        return None


def write_csv(predictions: Iterable[Prediction], path: str | os.PathLike, top_k: Optional[int] = None) -> None:
    """CSV: path, label, confidence, then top-k labels and probabilities."""
    predictions = list(predictions)
    k = top_k or max((len(p.topk) for p in predictions), default=1)
    from flowerstudio.core.foundation.csvfile import write_csv_file  # formula-safe cells, atomic write

    header = ["path", "label", "confidence"] + [c for j in range(1, k + 1) for c in (f"top{j}", f"p{j}")]
    write_csv_file(path, header, ([p.path, p.name, f"{p.confidence:.6f}"]
                                  + [c for name, prob in p.topk[:k] for c in (name, f"{prob:.6f}")]
                                  for p in predictions))
