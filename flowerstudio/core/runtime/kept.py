"""Photos kept decoded between the epochs of a stage that runs the whole network.

A fine-tuning epoch decodes every photo again, then resizes it, before its random augmentation: on the
CPU that was 41-54 % of an epoch of the last two stages (benchmarks/README.md, finetune). Those first
steps give the same pixels every epoch, so their result (8-bit RGB at the resize size, ~0.26 MB for a 4:3
photo at 224 px) is kept for the next epochs and only the random steps run again: what the network sees
is the same to the bit, drawn from the same random numbers.

Memory is bounded: photos are kept until ``budget_bytes`` is reached, the rest are decoded every epoch
as before. The budget is a quarter of this computer's memory, at most 4 GiB (12,500 photos at 224 px
take ~3.3 GB): the network, the optimizer and the desktop keep the rest.
"""
from __future__ import annotations

import os
from typing import Callable, Hashable

from PIL import Image

_MAX_BUDGET = 4 << 30


def default_budget() -> int:
    """A quarter of the physical memory, at most 4 GiB; 1 GiB where the size cannot be read (Windows)."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return 1 << 30
    return min(_MAX_BUDGET, total // 4)


class KeptPhotos:
    """Decoded photos by key, up to ``budget_bytes`` of pixels; one per stage, dropped with it."""

    def __init__(self, budget_bytes: int) -> None:
        self.budget_bytes = budget_bytes
        self.used_bytes = 0
        self._photos: dict[Hashable, Image.Image] = {}

    def __len__(self) -> int:
        return len(self._photos)

    def get(self, key: Hashable, make: Callable[[], Image.Image]) -> Image.Image:
        """The photo kept under ``key``, else ``make()``'s, kept while the budget allows. ``make`` raising
        (a broken photo) keeps nothing: the photo is tried, and reported, again next epoch."""
        photo = self._photos.get(key)
        if photo is not None:
            return photo
        photo = make()
        size = photo.width * photo.height * len(photo.getbands())
        if self.used_bytes + size <= self.budget_bytes:
            self._photos[key] = photo
            self.used_bytes += size
        return photo
