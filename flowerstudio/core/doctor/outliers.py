"""Photos far from every class: a screenshot among flowers, a blank frame, a photo from another set.

Two distances, each as a robust z-score over the dataset (median and MAD, so the outliers
themselves do not move the yardstick): the mean similarity to the photo's nearest photos, and
its similarity to the nearest class centre. Their mean is the score; a photo at or below
``OUTLIER_Z`` is reported. Photos planted from another dataset rank first with the mean more
often than with either part alone (benchmarks/README.md).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from flowerstudio.core.foundation.vocab import Part

OUTLIER_Z = -3.0  # about 1 photo in 700 of a normal spread; clean shared sets flag 0.1 - 0.4 %
NEIGHBOURS = 10


@dataclass(frozen=True)
class Outlier:
    """A photo unlike the others. ``score``: robust z-score (more negative = further from everything)."""

    path: str
    label: str  # the class folder it is in
    score: float
    neighbour_similarity: float  # mean cosine similarity to its nearest photos
    class_similarity: float  # cosine similarity to the nearest class centre
    part: Part


def robust_z(values: np.ndarray) -> np.ndarray:
    """(value - median) / (1.4826 * MAD): a z-score that a few extreme values cannot drag."""
    med = np.median(values)
    mad = 1.4826 * np.median(np.abs(values - med))
    return (values - med) / max(mad, 1e-6)


def class_centres(x: np.ndarray, labels: np.ndarray, n_classes: int) -> np.ndarray:
    """[n_classes, D]: the unit-length mean feature of each class (zeros for a class without photos)."""
    centres = np.zeros((n_classes, x.shape[1]), np.float32)
    np.add.at(centres, labels, x)
    return centres / np.maximum(np.linalg.norm(centres, axis=1, keepdims=True), 1e-12)


def outlier_scores(x: np.ndarray, centres: np.ndarray,
                   nn_sim: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(score, neighbour similarity, class similarity) per photo; ``nn_sim``: similarities to its neighbours."""
    near = nn_sim[:, :NEIGHBOURS].mean(axis=1) if nn_sim.shape[1] else np.ones(len(x), np.float32)
    to_class = (x @ centres.T).max(axis=1)
    return (robust_z(near) + robust_z(to_class)) / 2, near, to_class


def typical_photos(x: np.ndarray, labels: np.ndarray, centres: np.ndarray, count: int) -> list[list[int]]:
    """Per class, the indices of its ``count`` photos nearest its centre: what the class looks like."""
    to_own = np.einsum("nd,nd->n", x, centres[labels])
    order = np.lexsort((-to_own, labels))  # by class, then nearest first
    starts = np.searchsorted(labels[order], np.arange(len(centres) + 1))
    return [order[starts[j]:starts[j + 1]][:count].tolist() for j in range(len(centres))]
