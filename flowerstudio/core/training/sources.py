"""Where a stage's batches come from. The training step (step.py) does not care which:

- ``FeatureSource``: the frozen stage on cached features. The backbone never changes, so each photo
  (or each of a few augmented views of it) goes through it once (runtime/featurecache.py) and the
  epochs train the head on those features: a fraction of a second each.
- ``ImageSource``: every other stage. Photos are augmented every epoch (decoded once, kept while memory
  allows: runtime/kept.py) and run through the whole network; under torchrun each process reads its
  share (DistributedSampler).

Both give ``batches(epoch)`` of (inputs, labels) on the device, ``net`` (the module those inputs feed)
and ``validate(epoch)``: every validation photo's logits and labels, on every process.
"""
from __future__ import annotations

import math
from contextlib import contextmanager
from typing import Iterator, Optional

import torch
from torch import nn
from torch.utils.data import RandomSampler

from flowerstudio.core.foundation.events import BadImage, Cancelled, CancelToken, Meter, PhaseStarted, Progress
from flowerstudio.core.foundation.vocab import Part, Phase
from flowerstudio.core.model.classifier import batch_to_device
from flowerstudio.core.runtime.featurecache import cache_for, entry_name
from flowerstudio.core.runtime.augment import threaded_batches
from flowerstudio.core.runtime.inference import InferenceNet
from flowerstudio.core.runtime.kept import KeptPhotos, default_budget
from flowerstudio.core.runtime.loader import ImageDataset, decoding_plan, make_loader
from flowerstudio.core.runtime.threads import one_thread_on_cpu
from flowerstudio.core.runtime.transforms import eval_transform, train_transform
from flowerstudio.core.training import speeds
from flowerstudio.core.training.lean import lean
from flowerstudio.core.training.report import Reporter
from flowerstudio.core.training.setup import Setup

Batch = Optional[tuple[torch.Tensor, torch.Tensor]]  # None: every photo of it was unreadable


class FeatureSource:
    """Batches of cached backbone features; only the head trains."""

    progress_every = 20  # steps take microseconds: an event each would cost more than the step
    mixed_precision = False

    def __init__(self, setup: Setup, report: Reporter, cancel: CancelToken) -> None:
        cfg, scan, dev = setup.config, setup.scan, setup.device
        cache = cache_for(cfg, report.emit, setup.start.model)
        net = InferenceNet(setup.model.backbone, dev, cfg.inference_engine)  # one session for every view
        common = dict(backbone=net, device=dev, batch_size=cfg.batch_size, workers=cfg.workers,
                      callback=report.emit, cancel=cancel, min_side=setup.preprocessing.resize, dist=setup.dist)
        clean, augmented = eval_transform(setup.preprocessing), train_transform(setup.preprocessing, cfg.augment)
        paths, labels = [s.path for s in scan.train], [s.label for s in scan.train]
        views, masks = [], []
        for v in range(cfg.cache_views):  # view 0 is the clean photo; the others are augmented copies
            f, ok = cache.features(entry_name(Part.TRAIN, v), paths, labels, clean if v == 0 else augmented,
                                   label=f" (view {v + 1}/{cfg.cache_views})", **common)
            views.append(f)
            masks.append(ok)
        val_paths, val_labels = [s.path for s in scan.val], [s.label for s in scan.val]
        val_x, val_ok = cache.features(entry_name(Part.VAL), val_paths, val_labels, clean, label=" (validation)",
                                       **common)
        keep = torch.stack(masks).all(0).to(dev)
        self.train_x = torch.stack(views).to(dev)[:, keep]  # [V, N, D]
        self.train_y = torch.tensor(labels, device=dev)[keep]
        self.val_x = val_x[val_ok].to(dev).float()
        self.val_y = torch.tensor(val_labels, device=dev)[val_ok.to(dev)]
        photos, seconds = cache.extracted
        if photos >= 64 and setup.dist.is_main:  # enough to time: what the advice's cost figures start from
            speeds.record(cfg.backbone, dev.type, cfg.input_size, speeds.EXTRACT, photos / seconds)
        self.net = setup.model.head
        # Epochs here take a fraction of a second: the model files are written when the stage ends, not after
        # each one, and only the head changes (runs/writer.py).
        report.writer.defer_files({f"head.{name}" for name in self.net.state_dict()})
        self.batch_size = cfg.batch_size
        self.photos = int(self.train_y.shape[0])
        self._gen = torch.Generator(device="cpu").manual_seed(cfg.seed)

    def threads(self):
        return one_thread_on_cpu(self.train_y.device)

    def steps(self) -> int:
        return math.ceil(self.photos / self.batch_size)

    def batches(self, epoch: int) -> Iterator[Batch]:
        n, dev = self.photos, self.train_y.device
        view = torch.randint(self.train_x.shape[0], (n,), generator=self._gen).to(dev)
        order = torch.randperm(n, generator=self._gen).to(dev)
        x_all = self.train_x[view, torch.arange(n, device=dev)].float()
        for i in range(0, n, self.batch_size):
            idx = order[i:i + self.batch_size]
            yield x_all[idx], self.train_y[idx]

    def validate(self, epoch: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Every validation photo's logits (every process holds all of them here)."""
        self.net.eval()
        with torch.inference_mode():
            return self.net(self.val_x).float().cpu(), self.val_y.cpu()


class ImageSource:
    """Augmented photos every epoch, through the whole network.

    The photos are decoded and augmented between steps, by threads that take turns with the step
    (augment.py; ``workers`` processes when the config asks), and kept decoded for the next epochs
    (kept.py): threads decoding beside the step measured slower on the CPU, where both want every core
    (benchmarks/README.md, finetune)."""

    progress_every = 1

    def __init__(self, setup: Setup, report: Reporter, cancel: CancelToken) -> None:
        cfg, scan, pre, dist = setup.config, setup.scan, setup.preprocessing, setup.dist
        self.setup, self.report, self.cancel = setup, report, cancel
        self.mixed_precision = cfg.amp  # autocast on CUDA, bfloat16 on a CPU that has it (step.py)
        # Decoded photos kept for the next epochs (kept.py); not with worker processes, which would each
        # keep their own copy of every photo.
        keep = KeptPhotos(default_budget()) if cfg.workers == 0 else None
        self.train_ds = ImageDataset([s.path for s in scan.train], [s.label for s in scan.train],
                                     train_transform(pre, cfg.augment), pre.resize, keep)
        self.val_ds = ImageDataset([s.path for s in scan.val], [s.label for s in scan.val], eval_transform(pre),
                                   pre.resize, keep)
        self.cuda = setup.device.type == "cuda"
        self.batch_size = cfg.batch_size
        self.photos = len(self.train_ds)
        self.net: nn.Module = setup.model
        self.samplers: dict[Part, object] = {}
        if dist.enabled:
            from torch.nn.parallel import DistributedDataParallel
            from torch.utils.data.distributed import DistributedSampler

            self.net = DistributedDataParallel(setup.model, device_ids=[setup.device.index] if self.cuda else None)
            self.samplers = {Part.TRAIN: DistributedSampler(self.train_ds, dist.world, dist.rank, seed=cfg.seed),
                             Part.VAL: DistributedSampler(self.val_ds, dist.world, dist.rank, shuffle=False)}

    def threads(self):
        """The context the stage's steps and validation run in: on the CPU, BatchNorm folded into the
        convolutions and the depthwise ones bfloat16 would slow kept in float32 (lean.py)."""
        if self.setup.device.type != "cpu":
            return _nothing()
        return lean(self.setup.model, self.setup.config.input_size)

    def steps(self) -> int:
        share = len(self.samplers[Part.TRAIN]) if self.samplers else self.photos
        return math.ceil(share / self.batch_size)

    def _loader(self, part: Part, epoch: int):
        ds, shuffle = (self.train_ds, True) if part == Part.TRAIN else (self.val_ds, False)
        sampler = self.samplers.get(part)
        if sampler is not None and part == Part.TRAIN:
            sampler.set_epoch(epoch)
        seed = self.setup.config.seed + epoch
        if self.setup.config.workers:
            return make_loader(ds, self.batch_size, shuffle, self.setup.config.workers, seed, pin_memory=self.cuda,
                               sampler=sampler)
        # a shuffle seeded by the run's seed and the epoch, as the DataLoader's; decoded and augmented by threads
        order = (list(sampler) if sampler is not None else
                 list(RandomSampler(ds, generator=torch.Generator().manual_seed(seed))) if shuffle else range(len(ds)))
        batches = threaded_batches(ds, order, self.batch_size, decoding_plan(self.setup.device)[0])
        return (batch.pin_memory() for batch in batches) if self.cuda else batches

    def _batches(self, part: Part, epoch: int) -> Iterator[Batch]:
        ds = self.train_ds if part == Part.TRAIN else self.val_ds
        for batch in self._loader(part, epoch):
            for j, reason in batch.bad:
                self.report.emit(BadImage(ds.paths[j], reason))  # a photo that vanished or broke: skipped
            if batch.images is None:
                yield None
                continue
            yield batch_to_device(batch.images, self.setup.device), batch.labels.to(self.setup.device,
                                                                                    non_blocking=True)

    def batches(self, epoch: int) -> Iterator[Batch]:
        return self._batches(Part.TRAIN, epoch)

    def validate(self, epoch: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Every validation photo's logits and labels, gathered from every process."""
        loader_len = math.ceil((len(self.samplers[Part.VAL]) if self.samplers else len(self.val_ds))
                               / self.batch_size)
        meter = Meter(loader_len)
        self.report.emit(PhaseStarted(Phase.VALIDATE, loader_len, epoch, self.setup.config.train_mode))
        kept: list[tuple[torch.Tensor, torch.Tensor]] = []
        self.net.eval()
        with torch.inference_mode():
            for batch in self._batches(Part.VAL, epoch):
                if self.setup.dist.any(self.cancel.cancelled):
                    raise Cancelled()
                meter.step()
                if batch is not None:
                    with autocast_for(self.setup.device, self.setup.config.amp):
                        kept.append((self.net(batch[0]).detach().float().cpu(), batch[1].cpu()))
                self.report.emit(Progress(Phase.VALIDATE, meter.done, meter.total, epoch, eta=meter.eta))
        parts = [p for share in self.setup.dist.gather(kept) for p in share]
        if not parts:  # every validation photo was unreadable
            return torch.zeros(0, self.setup.model.head.out_features), torch.zeros(0, dtype=torch.long)
        return torch.cat([x for x, _ in parts]), torch.cat([y for _, y in parts])


@contextmanager
def _nothing():
    yield


def autocast_for(device: torch.device, amp: bool, cpu_bf16: bool = False):
    """Mixed precision where it pays: bfloat16 (or float16) autocast on CUDA; on the CPU bfloat16 only for the
    training step on a CPU with bfloat16 instructions (``cpu_bf16``, step.py). Validation stays float32 there:
    the accuracy that picks the best epoch is the float32 model's, as it is saved and used."""
    if device.type == "cpu" and cpu_bf16:
        return torch.autocast("cpu", dtype=torch.bfloat16)
    if device.type != "cuda" or not amp:
        return _nothing()
    dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.autocast("cuda", dtype=dtype)
