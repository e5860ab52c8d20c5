"""A stage's batches decoded and augmented by threads, from the random numbers one thread would draw.

Once the photos are kept decoded (kept.py), augmenting them is most of the data's cost in a fine-tuning
epoch: rotation and colour jitter took 2.6 ms a photo on one core here, 1.6 ms on two threads (Pillow
releases the GIL while it works). But torchvision's random transforms draw from torch's one global
generator: threads drawing from it would draw in a different order each time, and a run would no longer
repeat from its seed. So the calling thread draws every photo's parameters, in the order the plain loop
draws them (v2's ``make_params``, after ``_RandomApplyTransform``'s coin), and the threads only apply them
(v2's ``transform``, which draws nothing): the batches are, to the bit, those of
``DataLoader(ImageDataset)`` from the same seed.

The parameters are drawn from the picture before the random steps: the app's steps keep its size and
channels until the crop (rotation does not expand), which is what ``make_params`` reads.

Feature extraction has no random steps and keeps loader.decoded_batches, which also decodes ahead of a GPU
(two chunks; here a chunk is decoded only when asked for): its speed is measured in benchmarks/README.md
(extraction, head_training) and was not measured again with this path.
"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Iterator, Sequence

import torch
from torchvision.transforms import v2

from flowerstudio.core.runtime.loader import Batch, ImageDataset, attempt, collate

_SKIP = object()  # a random-apply step whose coin said no


def _steps(transform) -> list:
    return list(transform.transforms) if isinstance(transform, v2.Compose) else [transform]


def draw(steps: Sequence, picture) -> list:
    """Each step's parameters for ``picture``, drawn as the steps' own ``forward`` would, in order."""
    drawn = []
    for step in steps:
        if not isinstance(step, v2.Transform):
            drawn.append(None)  # the app's own steps (NormalizedTensor) draw nothing
        elif hasattr(step, "p") and torch.rand(1) >= step.p:  # flips, grayscale: _RandomApplyTransform's coin
            drawn.append(_SKIP)
        else:
            drawn.append(step.make_params([picture]))
    return drawn


def apply(steps: Sequence, picture, drawn: Sequence):
    """The steps on ``picture`` with the drawn parameters; no random numbers are drawn here."""
    for step, params in zip(steps, drawn):
        if params is _SKIP:
            continue
        picture = step(picture) if params is None else step.transform(picture, params)
    return picture


def threaded_batches(dataset: ImageDataset, order: Sequence[int], batch_size: int,
                     threads: int) -> Iterator[Batch]:
    """The batches of ``dataset`` in ``order``: decoded and augmented by ``threads`` threads while the caller
    waits (on the CPU the step and the photos take turns with every core: loader.decoding_plan)."""
    steps = _steps(dataset.rest)
    pool = ThreadPoolExecutor(max_workers=threads)
    try:
        for start in range(0, len(order), batch_size):
            chunk = list(order[start:start + batch_size])
            pictures = list(pool.map(lambda i: attempt(dataset.picture, i), chunk))
            drawn = [draw(steps, pic) if why is None else None for pic, why in pictures]
            outs = list(pool.map(lambda k: (attempt(apply, steps, pictures[k][0], drawn[k])
                                            if drawn[k] is not None else pictures[k]), range(len(chunk))))
            yield collate([(out, dataset.labels[i], i, why) for i, (out, why) in zip(chunk, outs)])
    finally:
        pool.shutdown(cancel_futures=True)
