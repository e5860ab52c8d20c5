"""Backbone features computed once and kept on disk, for training a head on a frozen backbone.

A frozen backbone gives the same features every epoch, so the frozen stage runs each photo (or each of
a few augmented views of it) through the network once. Rows are keyed by the photo's identity (path,
size, mtime) inside an entry keyed by everything else that decides a feature: backbone, weights, input
size and transform recipe, and the device type and dtype they were computed with. A changed photo is
extracted again. The rows are written as extraction goes, each with a checksum (cache_store.py); the
cache is capped in size (foundation/cachedisk.py: least recently used goes first).

The cache is a speed-up, never a requirement: when it cannot be read or written, training and
prediction go on without it and say so once.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import time
from contextlib import nullcontext
from pathlib import Path
from typing import Callable, Optional, Sequence

import torch

from flowerstudio.core.foundation.atomic import atomic_write_bytes
from flowerstudio.core.foundation.cachedisk import default_cache_dir, evict
from flowerstudio.core.foundation.events import (
    BadImage, Callback, Cancelled, CancelToken, Log, Meter, PhaseStarted, Progress, ignore,
)
from flowerstudio.core.foundation.fsnames import json_bytes
from flowerstudio.core.foundation.vocab import InferenceEngine, LogLevel, Part, Phase, TrainMode
from flowerstudio.core.runtime.cache_store import SegmentStore, optional_folder
from flowerstudio.core.runtime.distributed import Distributed
from flowerstudio.core.runtime.inference import InferenceNet
from flowerstudio.core.runtime.loader import ImageDataset, decoded_batches, decoding_plan, make_loader

CACHE_VERSION = 2  # 2: segments with a checksum per row
PHOTOS = "photos"  # the entry of photos labelled from the cache (labelling/cached_predict.py)
SAVE_EVERY = 512  # photos per segment written while extracting: a kill keeps all but the last few
MISSING = "file not found (deleted or moved?)"
NOT_FINITE = "the network's output for this photo is not a finite number (damaged photo or weights?)"


def entry_name(part: Part, view: int = 0) -> str:
    """The cache entry of a part's photos: training photos have one entry per view (0 = the clean photo,
    the doctor's and the LR finder's too); validation and test photos have their clean view only."""
    return f"{Part.TRAIN}{view}" if Part(part) == Part.TRAIN else str(Part(part))


def compute_dtype(device: torch.device) -> torch.dtype:
    """The precision features are computed in: float16 autocast on CUDA, float32 elsewhere."""
    return torch.float16 if device.type == "cuda" else torch.float32


def stored_view(view: str, device: torch.device) -> str:
    """The file a view's features live in: the same photo gives other numbers on another device or dtype."""
    return f"{view}-{device.type}-{str(compute_dtype(device)).removeprefix('torch.')}"


def photo_identity(path: str) -> Optional[str]:
    """What a cached row is keyed by: the photo's path, size and modification time (None: it is gone)."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return f"{os.path.abspath(path)}|{st.st_size}|{st.st_mtime_ns}"


class FeatureCache:
    """The features of one (backbone, weights, transform recipe): an entry folder per view and device."""

    def __init__(self, root: Path, key_parts: dict, callback: Callback = ignore) -> None:
        blob = json.dumps({"v": CACHE_VERSION, **key_parts}, sort_keys=True).encode()
        self.key = hashlib.sha256(blob).hexdigest()[:20]
        self.folder = Path(root) / self.key
        self.key_parts = key_parts
        self._callback = callback
        self._warned = False
        self.extracted = (0, 0.0)  # photos run through the backbone by this object, and the seconds it took

    def _warn(self, text: str) -> None:
        if not self._warned:
            self._warned = True
            self._callback(Log(text, LogLevel.WARNING))

    def _store(self, view: str) -> Optional[SegmentStore]:
        folder = optional_folder(self.folder / view, self._warn)
        return SegmentStore(folder, self.key, self._warn) if folder is not None else None

    def _describe(self) -> None:
        """key.json beside the entries, for people reading the cache folder (nothing reads it back)."""
        path = self.folder / "key.json"
        if not path.exists():
            try:
                atomic_write_bytes(path, json_bytes(self.key_parts, indent=1, sort_keys=True))
            except OSError:
                pass  # the store has said it if the disk refuses

    def features(self, view: str, paths: Sequence[str], labels: Sequence[int], transform: Callable,
                 backbone: torch.nn.Module | InferenceNet, device: torch.device, batch_size: int, workers: int = 0,
                 callback: Callback = ignore, cancel: Optional[CancelToken] = None, label: str = "",
                 min_side: Optional[int] = None, dist: Optional[Distributed] = None,
                 engine: InferenceEngine | str = InferenceEngine.AUTO) -> tuple[torch.Tensor, torch.Tensor]:
        """Features [N, D] (float16) for ``paths`` and a mask of the photos that gave one.

        ``engine`` runs the backbone (inference.py), unless ``backbone`` is already an InferenceNet
        (one for every view of a run: one session, opened once); the engines agree within 1e-4, well
        inside the float16 the features are kept in, so it is not part of the cache key. A photo that is
        gone or unreadable is reported (BadImage) and masked out.

        Under torchrun each rank extracts its share of the missing photos; all ranks then hold every
        row and rank 0 writes them.
        """
        cancel, dist = cancel or CancelToken(), dist or Distributed()
        self._callback = callback if callback is not ignore else self._callback
        net = backbone if isinstance(backbone, InferenceNet) else InferenceNet(backbone, device, engine)
        store = self._store(stored_view(view, device))
        rows = store.read() if store is not None else {}
        ids = [photo_identity(p) for p in paths]
        for p, key in zip(paths, ids):
            if key is None:
                callback(BadImage(p, MISSING))
        missing = [i for i, key in enumerate(ids) if key is not None and key not in rows]
        if missing:
            callback(Log(f"Extracting features{label}: {len(missing)} of {len(paths)} photos not in the cache"))
            self._extract_missing(rows, missing, ids, paths, (transform, min_side), net, device, batch_size, workers,
                                  callback, cancel, dist, store if dist.is_main else None)
        else:
            callback(Log(f"Features{label}: all {len(paths)} photos found in the cache"))
        ok = torch.tensor([key is not None and key in rows for key in ids], dtype=torch.bool)
        dim = next(iter(rows.values())).shape[0] if rows else backbone_dim(net.net)
        out = torch.zeros(len(paths), dim, dtype=torch.float16)
        for i, key in enumerate(ids):
            if ok[i]:
                out[i] = rows[key]
        return out, ok

    def _extract_missing(self, rows, missing, ids, paths, decoding, net, device, batch_size, workers,
                         callback, cancel, dist, store: Optional[SegmentStore]) -> None:
        """Extract this process's share of ``missing`` into ``rows``; the rows go to disk as they come (a
        single process) or, under torchrun, from rank 0 once every rank's share is in."""
        mine = missing[dist.rank::dist.world]
        new: dict[str, torch.Tensor] = {}
        unsaved: dict[str, torch.Tensor] = {}

        def keep(key: str, row: torch.Tensor) -> None:
            new[key] = row
            if store is not None and not dist.enabled:
                unsaved[key] = row
                if len(unsaved) >= SAVE_EVERY:
                    store.add(dict(unsaved))
                    unsaved.clear()

        t0 = time.perf_counter()
        try:
            dataset = ImageDataset([paths[i] for i in mine], [0] * len(mine), *decoding)
            steps = math.ceil(math.ceil(len(missing) / dist.world) / batch_size)
            self._extract(keep, mine, ids, paths, dataset, net, device, batch_size, workers, callback, cancel,
                          dist, steps)
        finally:  # a stop or a failure keeps what was extracted
            self.extracted = (self.extracted[0] + len(new), self.extracted[1] + time.perf_counter() - t0)
            for part in dist.gather(new):
                rows.update(part)
            if store is not None:
                store.add(unsaved if not dist.enabled else {k: rows[k] for k in (ids[i] for i in missing) if k in rows})
                store.tidy([k for k in ids if k is not None])
                self._describe()
                _evict_quietly(self.folder)

    def _extract(self, keep, missing, ids, paths, dataset, net, device, batch_size, workers, callback, cancel,
                 dist, steps: int) -> None:
        # Worker processes when asked for; otherwise threads (loader.decoding_plan says how many, and when).
        loader = (make_loader(dataset, batch_size, shuffle=False, workers=workers, pin_memory=device.type == "cuda")
                  if workers else decoded_batches(dataset, batch_size, *decoding_plan(device)))
        meter = Meter(len(missing))
        callback(PhaseStarted(Phase.EXTRACT, len(missing)))
        dtype = compute_dtype(device)
        autocast = torch.autocast("cuda", dtype=dtype) if dtype != torch.float32 else nullcontext()
        with torch.inference_mode():
            for batch in loader:
                if dist.any(cancel.cancelled):
                    raise Cancelled()
                for j, reason in batch.bad:
                    callback(BadImage(paths[missing[j]], reason))
                if batch.images is not None:
                    with autocast:
                        feats = net(batch.images).float().half().cpu()
                    finite = torch.isfinite(feats).all(1).tolist()
                    for j, f, good in zip(batch.indices.tolist(), feats, finite):
                        if good:
                            keep(ids[missing[j]], f.clone())
                        else:
                            callback(BadImage(paths[missing[j]], NOT_FINITE))
                meter.step(len(batch.indices) + len(batch.bad))
                callback(Progress(Phase.EXTRACT, meter.done, meter.total, eta=meter.eta))
                steps -= 1
        for _ in range(steps):
            # A rank with a shorter share still joins every cancel check the others make.
            if dist.any(cancel.cancelled):
                raise Cancelled()


def _evict_quietly(folder: Path) -> None:
    try:
        evict(folder.parent, keep=folder)
    except OSError:
        pass  # the cap is enforced at the next write that can


def backbone_dim(backbone: torch.nn.Module) -> int:
    with torch.inference_mode():
        return backbone.eval()(torch.zeros(1, 3, 64, 64, device=next(backbone.parameters()).device)).shape[1]


def weights_id(cfg, start_model: Optional[Path] = None) -> str:
    """What the backbone's weights are, for the cache key: the registry's name for a pretrained backbone
    (also inside a frozen-stage model, which never changes it), else the identity of the file they are in."""
    from flowerstudio.core.model.backbones import get_spec

    source = None
    if start_model is not None and not _pretrained_inside(start_model):
        source = str(start_model)
    source = source or cfg.weights
    if source:
        return photo_identity(source) or source
    spec = get_spec(cfg.backbone)
    return spec.offline_package or os.path.basename(spec.weights_url)


def _pretrained_inside(model_path: Path) -> bool:
    from flowerstudio.core.foundation.config import ConfigError, TrainConfig
    from flowerstudio.core.model.model_file import read_model_info

    info = read_model_info(model_path)
    if info.stage != TrainMode.FROZEN:
        return False
    try:
        cfg = TrainConfig.from_dict(info.config)
    except (ConfigError, TypeError):
        return False
    return not cfg.resume_from and not cfg.weights and cfg.backbone == info.backbone


def cache_for(cfg, callback: Callback = ignore, start_model: Optional[Path] = None) -> FeatureCache:
    """The cache holding features for ``cfg``'s backbone, weights and transform recipe."""
    from flowerstudio.core.model.preprocessing import Preprocessing
    from flowerstudio.core.runtime.transforms import recipe

    return FeatureCache(default_cache_dir(), {
        "backbone": cfg.backbone, "weights": weights_id(cfg, start_model),
        "recipe": recipe(Preprocessing.for_run(cfg), cfg.augment),
    }, callback)
