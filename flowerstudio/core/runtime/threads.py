"""One intra-op thread for small CPU work, where two threads cost more than they give."""
from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

import torch


@contextmanager
def one_thread_on_cpu(device: torch.device) -> Iterator[None]:
    """One intra-op thread on CPU for this thread's torch work inside the block; nothing changes on a GPU.

    Small ops (a head's [32, 1280] x [1280, C] training step; Grad-CAM's backward through one photo) spend
    more time at OpenMP's thread barrier than computing, the more so when the cores are busy: ten head
    epochs on 1,600 cached photos took 0.5-0.8 s with one thread, 3.6-5.7 s with two (benchmarks/README.md,
    review_loop); Grad-CAM on a busy machine 0.155 s a photo against 0.241 s (worst 0.29 s against 1.87 s),
    5 ms slower on an idle one (gradcam). OpenMP keeps the setting per thread; the block restores it.
    """
    if device.type != "cpu":
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)
