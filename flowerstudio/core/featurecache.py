"""Backbone features computed once and kept on disk, for training a head on a frozen backbone.

A frozen backbone gives the same features every epoch, so the frozen stage runs each
photo (or each of a few augmented views of it) through the network once. Entries are
keyed by the photo's identity (path, size, mtime) inside a file keyed by everything
else that decides a feature: backbone, weights, input size and transform recipe.
A changed photo is re-extracted; a corrupt or foreign cache file is rebuilt. Each view's
file is also keyed by the device type and dtype the features were computed with.
Writers take a file lock and merge with what is on disk, so two runs never lose each
other's rows; the cache is capped in size (cachedisk.py: least recently used goes first).
"""
from __future__ import annotations

import hashlib
import math
import json
import os
from contextlib import nullcontext
from pathlib import Path
from typing import Callable, Optional, Sequence

import torch

from flowerstudio.core.atomic import atomic_write_bytes
from flowerstudio.core.cachedisk import cache_limit_bytes, default_cache_dir, evict, mark_used
from flowerstudio.core.filelock import locked
from flowerstudio.core.fsnames import json_bytes
from flowerstudio.core.distributed import Distributed
from flowerstudio.core.events import BadImage, Cancelled, CancelToken, Log, Meter, PhaseStarted, Progress, ignore
from flowerstudio.core.inference import InferenceNet
from flowerstudio.core.loader import ImageDataset, decoded_batches, decoding_plan, make_loader
from flowerstudio.core.vocab import InferenceEngine

CACHE_VERSION = 1


def compute_dtype(device: torch.device) -> torch.dtype:
    """The precision features are computed in: float16 autocast on CUDA, float32 elsewhere."""
    return torch.float16 if device.type == "cuda" else torch.float32


def stored_view(view: str, device: torch.device) -> str:
    """The file a view's features live in: the same photo gives other numbers on another device or dtype."""
    return f"{view}-{device.type}-{str(compute_dtype(device)).removeprefix('torch.')}"


def photo_identity(path: str) -> str:
    st = os.stat(path)
    return f"{os.path.abspath(path)}|{st.st_size}|{st.st_mtime_ns}"


class FeatureCache:
    """One cache file per (backbone, weights, transform recipe, view)."""

    def __init__(self, root: Path, key_parts: dict) -> None:
        blob = json.dumps({"v": CACHE_VERSION, **key_parts}, sort_keys=True).encode()
        self.key = hashlib.sha256(blob).hexdigest()[:20]
        self.folder = Path(root) / self.key
        self.key_parts = key_parts

    def _file(self, view: str) -> Path:
        return self.folder / f"{view}.safetensors"

    def _read(self, view: str) -> dict[str, torch.Tensor]:
        from safetensors import safe_open

        path = self._file(view)
        if not path.is_file():
            return {}
        mark_used(self.folder)
        try:
            with safe_open(str(path), framework="pt") as fh:
                meta = fh.metadata() or {}
                ids = json.loads(meta.get("ids", "[]"))
                if meta.get("key") != self.key or int(meta.get("version", -1)) != CACHE_VERSION:
                    return {}
                feats = fh.get_tensor("features")
            if feats.shape[0] != len(ids):
                return {}
            return dict(zip(ids, feats))
        except Exception:  # a damaged cache is rebuilt, never trusted
            return {}

    def _write(self, view: str, rows: dict[str, torch.Tensor], needed: Sequence[str] = ()) -> None:
        """Merge ``rows`` into the file under a lock; past the size cap keep only the ``needed`` ones."""
        from safetensors.torch import save

        if not rows:
            return
        with locked(self.folder / f"{view}.lock"):
            rows = {**self._read(view), **rows}  # what other runs wrote since this one read the file
            row_bytes = next(iter(rows.values())).numel() * 2
            if len(rows) * row_bytes > cache_limit_bytes():
                rows = {k: rows[k] for k in needed if k in rows}
            if not rows:
                return
            ids = list(rows)
            feats = torch.stack([rows[i] for i in ids]).contiguous()
            meta = {"key": self.key, "version": str(CACHE_VERSION), "ids": json.dumps(ids)}
            atomic_write_bytes(self._file(view), save({"features": feats}, metadata=meta))
            atomic_write_bytes(self.folder / "key.json", json_bytes(self.key_parts, indent=1, sort_keys=True))
        evict(self.folder.parent, keep=self.folder)

    def features(
        self,
        view: str,
        paths: Sequence[str],
        labels: Sequence[int],
        transform: Callable,
        backbone: torch.nn.Module | InferenceNet,
        device: torch.device,
        batch_size: int,
        workers: int = 0,
        callback=ignore,
        cancel: Optional[CancelToken] = None,
        label: str = "",
        min_side: Optional[int] = None,
        dist: Optional[Distributed] = None,
        engine: InferenceEngine | str = InferenceEngine.AUTO,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Features [N, D] (float16) for ``paths`` and a mask of the photos that decoded.

        ``engine`` runs the backbone (inference.py), unless ``backbone`` is already an InferenceNet
        (one for every view of a run: one session, opened once); the engines agree within 1e-4, well
        inside the float16 the features are kept in, so it is not part of the cache key.

        Under torchrun each rank extracts its share of the missing photos; all ranks
        then hold every row and rank 0 writes the file.
        """
        cancel, dist = cancel or CancelToken(), dist or Distributed()
        net = backbone if isinstance(backbone, InferenceNet) else InferenceNet(backbone, device, engine)
        view = stored_view(view, device)
        rows = self._read(view)
        ids = [photo_identity(p) for p in paths]
        missing = [i for i, key in enumerate(ids) if key not in rows]
        if missing:
            callback(Log(f"Extracting features{label}: {len(missing)} of {len(paths)} photos not in the cache"))
            mine = missing[dist.rank::dist.world]
            new: dict[str, torch.Tensor] = {}
            try:
                dataset = ImageDataset([paths[i] for i in mine], [labels[i] for i in mine], transform, min_side)
                steps = math.ceil(math.ceil(len(missing) / dist.world) / batch_size)
                self._extract(new, mine, ids, paths, dataset, net, device,
                              batch_size, workers, callback, cancel, dist, steps)
            finally:
                for part in dist.gather(new):
                    rows.update(part)
                if dist.is_main:
                    self._write(view, rows, ids)  # keep what was done, even when cancelled
        else:
            callback(Log(f"Features{label}: all {len(paths)} photos found in the cache"))
        ok = torch.tensor([key in rows for key in ids], dtype=torch.bool)
        dim = next(iter(rows.values())).shape[0] if rows else backbone_dim(net.net)
        out = torch.zeros(len(paths), dim, dtype=torch.float16)
        for i, key in enumerate(ids):
            if key in rows:
                out[i] = rows[key]
        return out, ok

    def _extract(self, rows, missing, ids, paths, dataset, net, device, batch_size, workers,
                 callback, cancel, dist, steps: int) -> None:
        # Worker processes when asked for; otherwise threads (loader.decoding_plan says how many, and when).
        loader = (make_loader(dataset, batch_size, shuffle=False, workers=workers, pin_memory=device.type == "cuda")
                  if workers else decoded_batches(dataset, batch_size, *decoding_plan(device)))
        meter = Meter(len(missing))
        callback(PhaseStarted("extract", len(missing)))
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
                    for j, f in zip(batch.indices.tolist(), feats):
                        rows[ids[missing[j]]] = f.clone()
                meter.step(len(batch.indices) + len(batch.bad))
                callback(Progress("extract", meter.done, meter.total, eta=meter.eta))
                steps -= 1
        for _ in range(steps):
            # A rank with a shorter share still joins every cancel check the others make.
            if dist.any(cancel.cancelled):
                raise Cancelled()


def backbone_dim(backbone: torch.nn.Module) -> int:
    with torch.inference_mode():
        return backbone.eval()(torch.zeros(1, 3, 64, 64, device=next(backbone.parameters()).device)).shape[1]


def weights_id(cfg) -> str:
    """What the backbone's weights are, for the cache key: a file's identity, or the registry's name."""
    from flowerstudio.core import runs
    from flowerstudio.core.models import get_spec

    source = cfg.resume_from and str(runs.resolve_model_path(cfg.resume_from, cfg.output_dir or None))
    source = source or cfg.weights
    if source:
        return photo_identity(source)
    spec = get_spec(cfg.backbone)
    return spec.offline_package or os.path.basename(spec.weights_url)


def cache_for(cfg) -> FeatureCache:
    """The cache holding features for ``cfg``'s backbone, weights and transform recipe."""
    from flowerstudio.core.models import get_spec
    from flowerstudio.core.transforms import recipe

    spec = get_spec(cfg.backbone)
    return FeatureCache(default_cache_dir(), {
        "backbone": cfg.backbone, "weights": weights_id(cfg),
        "recipe": recipe(cfg.augment, cfg.input_size, spec.mean, spec.std),
    })
