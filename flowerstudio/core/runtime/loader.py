"""Torch datasets and loaders over scanned samples. A photo that fails to decode is
dropped from its batch and reported; it never stops the run."""
from __future__ import annotations

from collections import deque
from concurrent.futures import ThreadPoolExecutor
from itertools import islice
from typing import Callable, Iterator, Optional, Sequence

import torch
from torch.utils.data import DataLoader, Dataset
from torchvision.transforms import v2

from flowerstudio.core.photos.imageio import ImageLoadError, load_image
from flowerstudio.core.runtime.kept import KeptPhotos
from flowerstudio.core.runtime.transforms import split_fixed


class ImageDataset(Dataset):
    """(path, label) pairs -> (tensor or None, label, index, error or None).

    A v2.Compose transform is held as its fixed first steps and the rest (transforms.split_fixed):
    ``picture(i)`` is the photo through the fixed steps, kept in ``keep`` for the next epochs where given
    (runtime/kept.py); the rest run every time (in threads: runtime/augment.py)."""

    def __init__(self, paths: Sequence[str], labels: Sequence[int], transform: Callable,
                 min_side: Optional[int] = None, keep: Optional[KeptPhotos] = None) -> None:
        self.paths = list(paths)
        self.labels = list(labels)
        self.transform = transform
        self.min_side = min_side  # see load_image: faster JPEG decoding
        self.keep = keep
        self.fixed, self.rest = split_fixed(transform) if isinstance(transform, v2.Compose) else (None, transform)

    def __len__(self) -> int:
        return len(self.paths)

    def picture(self, i: int):
        """Photo ``i`` decoded and through the fixed steps. Raises ImageLoadError for a photo that cannot be used."""
        def decode():
            img = load_image(self.paths[i], min_side=self.min_side)
            return img if self.fixed is None else self.fixed(img)

        # keyed by dataset too: a stage's training and validation photos share one budget
        return decode() if self.keep is None else self.keep.get((id(self), i), decode)

    def __getitem__(self, i: int):
        picture, why = attempt(self.picture, i)
        out, why = attempt(self.rest, picture) if why is None else (None, why)
        return out, self.labels[i], i, why


def attempt(fn: Callable, *args) -> tuple[object, Optional[str]]:
    """(fn(*args), None), or (None, why) for a photo that cannot be read or transformed: a bad photo is
    dropped from its batch and reported, it never stops the run."""
    try:
        return fn(*args), None
    except ImageLoadError as exc:
        return None, exc.reason
    except Exception as exc:  # a transform failing on an odd image is a bad photo, not a crash
        return None, f"cannot transform image: {exc}"


class Batch:
    """The good images of a batch, plus the indices and reasons of the bad ones."""

    __slots__ = ("images", "labels", "indices", "bad")

    def __init__(self, images, labels, indices, bad) -> None:
        self.images: Optional[torch.Tensor] = images
        self.labels: torch.Tensor = labels
        self.indices: torch.Tensor = indices
        self.bad: list[tuple[int, str]] = bad

    def pin_memory(self) -> "Batch":
        if self.images is not None:
            self.images = self.images.pin_memory()
        self.labels = self.labels.pin_memory()
        return self


def collate(items) -> Batch:
    good = [it for it in items if it[3] is None]
    bad = [(it[2], it[3]) for it in items if it[3] is not None]
    images = torch.stack([it[0] for it in good]) if good else None
    return Batch(
        images,
        torch.tensor([it[1] for it in good], dtype=torch.long),
        torch.tensor([it[2] for it in good], dtype=torch.long),
        bad,
    )


def make_loader(
    dataset: Dataset,
    batch_size: int,
    shuffle: bool,
    workers: int = 0,
    seed: int = 0,
    pin_memory: bool = False,
    sampler=None,
) -> DataLoader:
    """A DataLoader whose workers are spawned, not forked: it may run inside a Qt process.
    With a ``sampler`` (DistributedSampler under torchrun) it decides order and shuffling."""
    generator = torch.Generator().manual_seed(seed)
    extra = {}
    if workers > 0:
        extra = {"multiprocessing_context": "spawn", "persistent_workers": True, "prefetch_factor": 4}
    return DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=shuffle and sampler is None,
        sampler=sampler,
        num_workers=workers,
        collate_fn=collate,
        pin_memory=pin_memory,
        generator=generator,
        **extra,
    )


# Threads that decode photos while a GPU runs the network. Not tuned on a GPU (none here): 2, what
# decoding ahead of the network measured best with on the 2-core machine (1, 2 and 3 alike, within 5 %,
# and 2.3-2.5x decoding in the calling thread) before the CPU took turns.
GPU_DECODE_THREADS = 2


def decoding_plan(device: torch.device) -> tuple[int, bool]:
    """(threads, ahead): how photos are decoded for a network running on ``device``.

    A GPU runs the network while the CPU decodes the next photos: 2 threads, ahead of it. On the CPU
    the two share the cores, so they take turns, each with every core (a thread per core torch uses):
    side by side, 4 threads on 2 cores, the network's operators waited at their barriers for threads
    the decoding held. Taking turns measured 5.15 -> 4.97 s for a first frozen run on 586 photos (3 % less
    CPU time), and 4.56 -> 4.46 s to label 600 (benchmarks/README.md, head_training).
    """
    if device.type == "cpu":
        return max(1, torch.get_num_threads()), False
    return GPU_DECODE_THREADS, True


def decoded(fn: Callable[[int], object], n: int, threads: int, chunk: int, ahead: bool) -> Iterator:
    """fn(0), ..., fn(n - 1) in order, run by ``threads`` threads. ``ahead``: up to two chunks are decoded
    while the caller works; otherwise a chunk is decoded only when the caller asks for its first item,
    so the caller's work and the decoding take turns. Stopping early cancels what is queued."""
    pool = ThreadPoolExecutor(max_workers=threads)
    try:
        if ahead:
            yield from bounded_map(pool, fn, n, ahead=2 * chunk)
        else:
            for start in range(0, n, chunk):
                yield from list(pool.map(fn, range(start, min(start + chunk, n))))
    finally:
        pool.shutdown(cancel_futures=True)  # a cancelled extraction does not decode what is queued


def decoded_batches(dataset: ImageDataset, batch_size: int, threads: int, ahead: bool = True) -> Iterator[Batch]:
    """The batches of make_loader(dataset, batch_size, shuffle=False), decoded by ``threads`` threads
    (decoded() says when). Pillow and torch release the GIL while they work, so the threads decode in
    parallel with none of the start-up and pickling of worker processes."""
    items = decoded(dataset.__getitem__, len(dataset), threads, batch_size, ahead)
    while chunk := list(islice(items, batch_size)):
        yield collate(chunk)


def bounded_map(pool: ThreadPoolExecutor, fn, n: int, ahead: int) -> Iterator:
    """pool.map(fn, range(n)), but with at most ``ahead`` results decoded and waiting: memory stays flat."""
    futures: deque = deque()
    for i in range(n):
        futures.append(pool.submit(fn, i))
        if len(futures) >= ahead:
            yield futures.popleft().result()
    while futures:
        yield futures.popleft().result()
