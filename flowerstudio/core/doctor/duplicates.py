"""Duplicate photos: pairs of near-identical features, told apart by a pixel check.

Candidates are each photo's nearest neighbours at a cosine similarity (of backbone features) of
``CHECK_SIMILARITY`` or more: a resized, re-encoded copy can score as low as 0.82, because the
backbone sees the smaller copy blurred. Both photos of a candidate pair are shrunk to a blurred
32 x 32 grey thumbnail: when those match (mean difference under ``EXACT_PIXEL_DIFF``) the pair is
the same picture, possibly resized or re-encoded ("exact"). Other pairs at ``NEAR_SIMILARITY`` or
more are "near" copies (another shot, a crop, an edit); the rest are just alike, and not listed. A pair that crosses train <-> validation/test is a leak: the model is
then checked on a photo it has already seen.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np

from flowerstudio.core.foundation.events import BadImage, Callback, CancelToken, PhaseStarted, Progress, ignore
from flowerstudio.core.photos.imageio import ImageLoadError, load_image
from flowerstudio.core.foundation.vocab import Part, DuplicateKind, Phase

# Measured on the shared sets with planted copies (benchmarks/README.md), EfficientNet-Lite0 features:
# copies shrunk to 50-80 % score 0.82-0.99; 1 % (TrashNet) to 20 % (clothing) of other photos have a
# neighbour at 0.80 or more, and 2-4 % at 0.90 or more.
CHECK_SIMILARITY = 0.80
NEAR_SIMILARITY = 0.90
CHECK_NEIGHBOURS = 2  # a copy was always a photo's first or second neighbour
# Mean absolute difference of the thumbnails (0..1): copies measured at most 0.0044, distinct photos
# of one class at least 0.0106 (TrashNet's white backgrounds are the closest case).
EXACT_PIXEL_DIFF = 0.007
MAX_CHECKED = 5000  # pairs: bounds the decoding when a dataset is full of look-alikes
_THUMB = 32
_DECODE_SIDE = 128  # JPEG draft decoding at 1/8 scale shifts edges enough to fail a true copy: keep 1/4 or more


@dataclass(frozen=True)
class Duplicate:
    """Two photos that look the same. ``leak``: one is in train, the other in validation or test."""

    path_a: str
    path_b: str
    similarity: float  # cosine similarity of their features
    kind: DuplicateKind
    leak: bool
    part_a: Part
    part_b: Part


def candidate_pairs(nn_idx: np.ndarray, nn_sim: np.ndarray, threshold: float = CHECK_SIMILARITY,
                    limit: int = MAX_CHECKED) -> list[tuple[int, int, float]]:
    """(i, j, similarity) with i < j for each photo's first CHECK_NEIGHBOURS neighbours at ``threshold``
    or more, most similar first."""
    rows, cols = np.nonzero(nn_sim[:, :CHECK_NEIGHBOURS] >= threshold)
    pairs = {}
    for r, c in zip(rows.tolist(), cols.tolist()):
        j = int(nn_idx[r, c])
        pairs[(min(r, j), max(r, j))] = float(nn_sim[r, c])
    ranked = sorted(pairs.items(), key=lambda item: -item[1])[:limit]
    return [(i, j, s) for (i, j), s in ranked]


def find_duplicates(paths: Sequence[str], parts: Sequence[Part], nn_idx: np.ndarray, nn_sim: np.ndarray,
                    callback: Callback = ignore, cancel: Optional[CancelToken] = None) -> list[Duplicate]:
    """Duplicate pairs among ``paths``, exact copies first, then by similarity."""
    pairs = candidate_pairs(nn_idx, nn_sim)
    thumbs = _thumbnails(sorted({i for p in pairs for i in p[:2]}), paths, callback, cancel)
    found = []
    for i, j, sim in pairs:
        a, b = thumbs.get(i), thumbs.get(j)
        exact = a is not None and b is not None and float(np.abs(a - b).mean()) < EXACT_PIXEL_DIFF
        if not exact and sim < NEAR_SIMILARITY:
            continue
        sides = {parts[i], parts[j]}
        found.append(Duplicate(paths[i], paths[j], sim, DuplicateKind.EXACT if exact else DuplicateKind.NEAR,
                               Part.TRAIN in sides and len(sides) > 1, parts[i], parts[j]))
    found.sort(key=lambda d: (d.kind != DuplicateKind.EXACT, -d.similarity))
    return found


def _thumbnails(indices: list[int], paths: Sequence[str], callback: Callback,
                cancel: Optional[CancelToken]) -> dict[int, np.ndarray]:
    from PIL import Image, ImageFilter

    callback(PhaseStarted(Phase.COMPARE, len(indices)))
    thumbs = {}
    for n, i in enumerate(indices, 1):
        if cancel is not None and n % 50 == 0:
            cancel.raise_if_cancelled()
        try:
            img = load_image(paths[i], min_side=_DECODE_SIDE).convert("L")
        except ImageLoadError as exc:
            callback(BadImage(paths[i], exc.reason))
            continue
        # The aspect ratio is ignored on purpose; the blur forgives the half-pixel shifts of resizing.
        small = img.resize((_THUMB, _THUMB), Image.Resampling.BOX).filter(ImageFilter.GaussianBlur(1.0))
        thumbs[i] = np.asarray(small, dtype=np.float32) / 255.0
        if n % 50 == 0 or n == len(indices):
            callback(Progress(Phase.COMPARE, n, len(indices)))
    return thumbs
