"""Photos that are likely in the wrong class folder (confident learning on out-of-sample probabilities).

Each photo gets class probabilities from models that never saw it: a linear probe (logistic
regression on the unit-length features) trained K-fold, blended 2:1 with a vote of its nearest
photos (leave-one-out by construction). The score is the probability of the given class divided
by its class's mean (confident learning's per-class threshold), so the photos of a class the
model finds hard do not crowd out the rest. A photo whose best class, on that same scale, is
not its folder is listed, lowest score first. Each choice was measured against the plain probe on
the shared sets with planted mistakes (benchmarks/README.md): the vote and the per-class scale
each add 1-5 points of precision; margin scores and stronger probes (C = 10, 30) lose.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np
import torch

from flowerstudio.core.foundation.events import Callback, CancelToken, PhaseStarted, Progress, ignore
from flowerstudio.core.doctor.neighbours import project
from flowerstudio.core.doctor.photo_features import PhotoFeatures
from flowerstudio.core.foundation.vocab import Part, Phase

FOLDS = 5
PROBE_C = 1.0  # sklearn's default: C = 3, 10, 30 helped TrashNet but lost more on clothing
# The probe sees the features on their top principal directions: 5x less work per iteration (100
# classes x 10,000 photos in seconds), and the same ranking on both shared sets (benchmarks/README.md).
PROBE_DIM = 256
PROBE_WEIGHT = 2 / 3  # the probe's share of the blend; the neighbour vote has the rest
VOTE_NEIGHBOURS = 20
VOTE_TEMPERATURE = 0.1  # neighbour weight exp((similarity - 1) / T): the closest photos count most


@dataclass(frozen=True)
class LabelIssue:
    """A photo whose folder (``given``) the probe doubts; ``suggested`` is the class it most likely is."""

    path: str
    given: str  # class folder names
    suggested: str
    score: float  # given_probability / its class's mean: the lower, the more likely mislabelled
    given_probability: float  # out-of-sample, from the blend
    suggested_probability: float
    part: Part


def cross_validated_probabilities(x: np.ndarray, y: np.ndarray, n_classes: int, c: float = PROBE_C,
                                  folds: int = FOLDS, seed: int = 0, callback: Callback = ignore,
                                  cancel: Optional[CancelToken] = None) -> np.ndarray:
    """[N, n_classes] probabilities, each row from a logistic regression fitted on the other folds.

    Stratified folds. A class with fewer photos than folds misses some folds; a class with a single
    photo is absent from that photo's training folds, so its probability there is 0 (find_label_issues
    leaves such photos out).
    """
    from sklearn.linear_model import LogisticRegression  # on first use: a second or two to import
    from sklearn.model_selection import StratifiedKFold
    from threadpoolctl import threadpool_limits

    if x.shape[1] > PROBE_DIM:
        x = project(torch.from_numpy(np.ascontiguousarray(x)), PROBE_DIM).numpy()
    folds = int(min(folds, np.bincount(y).max()))
    probs = np.zeros((len(y), n_classes), np.float64)
    callback(PhaseStarted(Phase.CROSS_VALIDATE, folds))
    # One BLAS thread: OpenBLAS spins its second thread, so on a busy machine (or beside a training
    # job) a fit took 8.6 s instead of 0.26 s (measured); the matrices here are small enough for one.
    with warnings.catch_warnings(), threadpool_limits(1, user_api="blas"):
        # "The least populated class has only N members" is handled (see above); a probe that stops
        # at max_iter (ConvergenceWarning) is still a usable probe.
        warnings.simplefilter("ignore", UserWarning)
        splits = StratifiedKFold(folds, shuffle=True, random_state=seed).split(x, y)
        for fold, (train, test) in enumerate(splits, 1):
            if cancel is not None:
                cancel.raise_if_cancelled()
            present = np.unique(y[train])
            if len(present) == 1:
                probs[test, present[0]] = 1.0
            else:
                model = LogisticRegression(C=c, max_iter=500).fit(x[train], y[train])
                probs[np.ix_(test, model.classes_)] = model.predict_proba(x[test])
            callback(Progress(Phase.CROSS_VALIDATE, fold, folds))
    return probs


def neighbour_vote(y: np.ndarray, n_classes: int, nn_idx: np.ndarray, nn_sim: np.ndarray,
                   k: int = VOTE_NEIGHBOURS, temperature: float = VOTE_TEMPERATURE) -> np.ndarray:
    """[N, n_classes] probabilities from the labels of each photo's k nearest photos, weighted by similarity."""
    idx, sim = nn_idx[:, :k], nn_sim[:, :k].astype(np.float64)
    weight = np.exp((sim - 1.0) / temperature)
    votes = np.zeros((len(y), n_classes), np.float64)
    np.add.at(votes, (np.repeat(np.arange(len(y)), idx.shape[1]), y[idx].ravel()), weight.ravel())
    total = votes.sum(axis=1, keepdims=True)
    return np.divide(votes, total, out=np.full_like(votes, 1.0 / n_classes), where=total > 0)


def find_label_issues(feats: PhotoFeatures, classes: Sequence[str], nn_idx: np.ndarray, nn_sim: np.ndarray,
                      callback: Callback = ignore, cancel: Optional[CancelToken] = None
                      ) -> tuple[list[LabelIssue], Optional[float], list[str]]:
    """(issues ranked most likely first, the probe's out-of-sample accuracy, notes on what was not checked)."""
    y, n_classes = feats.labels, len(classes)
    counts = np.bincount(y, minlength=n_classes)
    if n_classes < 2 or (counts >= 2).sum() < 2:
        return [], None, ["Label issues need at least two classes with two or more photos each; "
                          "duplicates and outliers were still checked."]
    notes = []
    unscorable = counts[y] < 2  # a single photo of a class: no other photo can say what that class looks like
    if unscorable.any():
        lone = [classes[j] for j in np.flatnonzero(counts == 1)]
        notes.append(f"Classes with a single photo cannot have their label checked: {', '.join(lone[:10])}"
                     + (f" and {len(lone) - 10} more" if len(lone) > 10 else ""))
    probs = cross_validated_probabilities(feats.features, y, n_classes, callback=callback, cancel=cancel)
    accuracy = float((probs.argmax(1) == y).mean())
    probs = PROBE_WEIGHT * probs + (1 - PROBE_WEIGHT) * neighbour_vote(y, n_classes, nn_idx, nn_sim)
    scaled = probs / class_thresholds(probs, y, n_classes)
    rows = np.arange(len(y))
    score = scaled[rows, y]
    suggested = scaled.argmax(1)
    doubtful = np.flatnonzero((suggested != y) & ~unscorable)
    order = doubtful[np.argsort(score[doubtful], kind="stable")]
    issues = [LabelIssue(feats.paths[i], classes[y[i]], classes[suggested[i]], float(score[i]),
                         float(probs[i, y[i]]), float(probs[i, suggested[i]]), feats.parts[i]) for i in order]
    return issues, accuracy, notes


def class_thresholds(probs: np.ndarray, y: np.ndarray, n_classes: int) -> np.ndarray:
    """[n_classes]: the mean probability of class j over the photos labelled j (1 for a class with none)."""
    total = np.zeros(n_classes)
    np.add.at(total, y, probs[np.arange(len(y)), y])
    counts = np.bincount(y, minlength=n_classes)
    return np.maximum(np.divide(total, counts, out=np.ones(n_classes), where=counts > 0), 1e-6)
