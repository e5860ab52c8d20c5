"""Prediction under torchrun: each process labels its share of the photos and writes its part of the
CSV; rank 0 merges the parts into the one CSV and does what needs every label (sorting, printing).

Shares are contiguous runs of the sorted photo list, so the parts laid end to end, in rank order,
are the CSV one process would have written. Only what rank 0 needs crosses the process group:
totals always, the labels themselves only for sorting or printing, never the probabilities.
"""
from __future__ import annotations

import dataclasses
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from flowerstudio.core.foundation.atomic import atomic_path
from flowerstudio.core.runtime.distributed import Distributed
from flowerstudio.core.labelling.predict import Prediction, PredictResult


@dataclass
class Labelled:
    """The whole job's outcome, on rank 0. ``predictions`` hold no probabilities, and are empty
    unless asked for; the totals always count every process's photos."""

    labelled: int = 0
    confidence_sum: float = 0.0
    unreadable: list[tuple[str, str]] = field(default_factory=list)
    cancelled: bool = False
    predictions: list[Prediction] = field(default_factory=list)

    @property
    def mean_confidence(self) -> float:
        return self.confidence_sum / max(self.labelled, 1)


def share(paths: Sequence[str], dist: Distributed) -> list[str]:
    """This process's contiguous share of ``paths`` (all of them outside torchrun)."""
    n = len(paths)
    return list(paths[dist.rank * n // dist.world:(dist.rank + 1) * n // dist.world])


def part_path(csv: str | os.PathLike, dist: Distributed) -> Path:
    """Where this process writes its part of ``csv``: ``csv`` itself outside torchrun."""
    return Path(f"{os.fspath(csv)}.part{dist.rank}-of-{dist.world}") if dist.enabled else Path(csv)


def merge_csv(csv: str | os.PathLike, dist: Distributed) -> None:
    """Rank 0: lay the parts end to end under one header into ``csv`` (atomically), then remove them."""
    parts = [Path(f"{os.fspath(csv)}.part{r}-of-{dist.world}") for r in range(dist.world)]
    with atomic_path(csv) as tmp, open(tmp, "wb") as out:
        for r, part in enumerate(parts):
            with open(part, "rb") as fh:
                header = fh.readline()
                if r == 0:
                    out.write(header)
                shutil.copyfileobj(fh, out)
    for part in parts:
        part.unlink()


def gather(result: PredictResult, dist: Distributed, with_predictions: bool) -> Labelled:
    """Every process's result summed up; meaningful on rank 0 (collective: every rank calls it)."""
    mine = Labelled(len(result.predictions), sum(p.confidence for p in result.predictions), result.unreadable,
                    result.cancelled,
                    [dataclasses.replace(p, probs=None) for p in result.predictions] if with_predictions else [])
    total = Labelled()
    for part in dist.gather(mine):  # in rank order, so in photo order
        total.labelled += part.labelled
        total.confidence_sum += part.confidence_sum
        total.unreadable += part.unreadable
        total.cancelled |= part.cancelled
        total.predictions += part.predictions
    return total
