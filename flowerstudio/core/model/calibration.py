"""Calibrated confidence: temperature scaling (Guo et al., 2017) and the calibration error.

A network's softmax is often over- or underconfident: trained on 40 photos per class, the
frozen-stage head says 63 % where it is right 81 % of the time (benchmarks/README.md). One
scalar T, fitted on the validation split's logits to minimise the negative log-likelihood,
fixes most of that: probabilities become softmax(logits / T). Dividing every logit by the
same T never changes which class is largest, so accuracy is untouched.

The fit is a bounded 1-D search over log T (a grid from 0.05 to 20, refined by golden-section
search) with a weak prior that pulls T towards 1 in proportion to 1/n: with a small validation
split (the case that needs calibration most) a handful of photos cannot push T to an extreme,
while with a few hundred the prior no longer matters.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch

from flowerstudio.core.model.metadata import MAX_TEMPERATURE, MIN_TEMPERATURE

MIN_PHOTOS = 20  # fewer validation photos than this: T stays 1
PRIOR_SD = 0.5  # prior standard deviation of log T (see _objective)
ECE_BINS = 15
_GRID = 61  # points of the coarse search over log T (10 % apart in T); a golden-section search refines it


@dataclass(frozen=True)
class TemperatureFit:
    """The outcome of fitting T on ``photos`` validation photos.

    ``calibrated``: T was fitted and checked (it may be 1 when no other value lowered the
    NLL); False when it could not be (too few photos, broken logits) and T stays 1.
    ``nll_before``/``nll_after``: mean NLL on those photos at T = 1 and at ``temperature``.
    """

    temperature: float
    calibrated: bool
    photos: int
    nll_before: float
    nll_after: float
    message: str


def calibrated_probs(logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """softmax(logits / T) over the last axis, in float32."""
    return torch.softmax(logits.float() / float(temperature), dim=-1)


def _nll(logits: torch.Tensor, labels: torch.Tensor, log_t: float) -> float:
    return torch.nn.functional.cross_entropy(logits * math.exp(-log_t), labels).item()


def _objective(logits: torch.Tensor, labels: torch.Tensor, log_t: float) -> float:
    # Mean NLL plus a Gaussian prior on log T (sd PRIOR_SD) shared out over the n photos: a MAP
    # estimate whose pull towards T = 1 fades as the validation split grows.
    return _nll(logits, labels, log_t) + log_t ** 2 / (2 * PRIOR_SD ** 2 * labels.shape[0])


def fit_temperature(logits: torch.Tensor, labels: torch.Tensor) -> TemperatureFit:
    """Fit T on validation ``logits`` [N, C] with true ``labels`` [N]; see TemperatureFit."""
    logits, labels = logits.detach().double().cpu(), labels.detach().long().cpu()
    n = int(labels.shape[0])
    if n < MIN_PHOTOS:
        return TemperatureFit(1.0, False, n, math.nan, math.nan,
                              f"Calibration skipped: only {n} validation photos (at least {MIN_PHOTOS} needed); "
                              "confidences stay the raw softmax (T = 1)")
    if not torch.isfinite(logits).all():
        return TemperatureFit(1.0, False, n, math.nan, math.nan,
                              "Calibration skipped: the validation logits are not finite; confidences stay "
                              "the raw softmax (T = 1)")
    grid = np.linspace(math.log(MIN_TEMPERATURE), math.log(MAX_TEMPERATURE), _GRID)
    best = int(np.argmin([_objective(logits, labels, s) for s in grid]))
    log_t = _golden_min(lambda s: _objective(logits, labels, s),
                        grid[max(best - 1, 0)], grid[min(best + 1, _GRID - 1)])
    before, after = _nll(logits, labels, 0.0), _nll(logits, labels, log_t)
    if not after < before:
        return TemperatureFit(1.0, True, n, before, before,
                              f"Calibration: T = 1 kept; no temperature lowered the NLL on {n} validation "
                              f"photos ({before:.3f})")
    t = math.exp(log_t)
    return TemperatureFit(t, True, n, before, after,
                          f"Calibration: temperature {t:.3f} fitted on {n} validation photos "
                          f"(NLL {before:.3f} -> {after:.3f}; accuracy unchanged)")


def _golden_min(f, a: float, b: float, steps: int = 30) -> float:
    """The minimum of a unimodal ``f`` on [a, b], to within (b - a) * 0.618 ** steps."""
    ratio = (math.sqrt(5) - 1) / 2
    c, d = b - ratio * (b - a), a + ratio * (b - a)
    fc, fd = f(c), f(d)
    for _ in range(steps):
        if fc <= fd:
            b, d, fd = d, c, fc
            c = b - ratio * (b - a)
            fc = f(c)
        else:
            a, c, fc = c, d, fd
            d = a + ratio * (b - a)
            fd = f(d)
    return (a + b) / 2


@dataclass(frozen=True)
class ReliabilityBin:
    """One bin of a reliability diagram: photos whose confidence lies in (lower, upper]."""

    lower: float
    upper: float
    count: int
    confidence: float  # mean confidence of those photos (NaN when the bin is empty)
    accuracy: float  # share of them labelled correctly (NaN when empty)


def reliability(confidences: Sequence[float], correct: Sequence[bool], bins: int = ECE_BINS) -> list[ReliabilityBin]:
    """Equal-width bins over (0, 1] of top-1 ``confidences``, with how often each was ``correct``."""
    conf = np.asarray(confidences, dtype=np.float64)
    ok = np.asarray(correct, dtype=np.float64)
    # Bin i holds (i/bins, (i+1)/bins]; a confidence of exactly 0 joins the first.
    index = np.clip(np.ceil(conf * bins).astype(int) - 1, 0, bins - 1)
    out = []
    for i in range(bins):
        sel = index == i
        k = int(sel.sum())
        out.append(ReliabilityBin(i / bins, (i + 1) / bins, k,
                                  float(conf[sel].mean()) if k else math.nan,
                                  float(ok[sel].mean()) if k else math.nan))
    return out


def expected_calibration_error(bins: Sequence[ReliabilityBin]) -> float:
    """ECE: the photo-weighted mean gap between confidence and accuracy over the bins."""
    total = sum(b.count for b in bins)
    if not total:
        return math.nan
    return sum(b.count / total * abs(b.accuracy - b.confidence) for b in bins if b.count)
