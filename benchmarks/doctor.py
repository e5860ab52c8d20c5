"""The dataset doctor on the shared sets with planted problems, against the plain probe in the same run.

For each set: a copy (links; the shared folder is never touched) with 5 % of its photos moved into a
wrong class folder and 20 resized, re-encoded copies added (plant.py). The doctor runs twice (cold,
then with a warm feature cache). Reported: precision among the top k label issues (k = photos moved)
for the doctor and for the plain probe (5-fold stratified logistic regression, sklearn defaults, on the
same L2-normalised features, ranked by the probability of the given class), recall of the planted
copies within the first 200 rows of duplicates.csv, and times. Then the analysis alone (examine) on
10,000 synthetic feature rows with 102 classes, and the neighbour search on 100,000 rows.

    .venv/bin/python benchmarks/doctor.py [--sets clothing,trashnet] [--work /tmp/fs-doctor-bench]
"""
from __future__ import annotations

import argparse
import csv
import os
import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import SHARED, machine  # noqa: E402
from plant import plant  # noqa: E402

SETS = {"clothing": SHARED / "clothing-small" / "train", "trashnet": SHARED / "trashnet"}


def plain_probe_precision(feats, moved: set[str]) -> float:
    """The reference: sklearn's LogisticRegression (C=1), 5 stratified folds, lowest p(given) first."""
    import numpy as np
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold

    x, y = feats.features, feats.labels
    probs = np.zeros((len(y), y.max() + 1))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        for train, test in StratifiedKFold(5, shuffle=True, random_state=0).split(x, y):
            model = LogisticRegression(max_iter=1000).fit(x[train], y[train])
            probs[np.ix_(test, model.classes_)] = model.predict_proba(x[test])
    order = np.argsort(probs[np.arange(len(y)), y], kind="stable")[:len(moved)]
    return sum(feats.paths[i] in moved for i in order) / len(moved)


def ablation(feats, moved: set[str]) -> dict[str, float]:
    """Precision at k of each part of the doctor's label score, on the same features and planted labels."""
    import numpy as np

    from flowerstudio.core.doctor.label_issues import (
        PROBE_WEIGHT, class_thresholds, cross_validated_probabilities, neighbour_vote,
    )
    from flowerstudio.core.doctor.neighbours import nearest_neighbours

    y = feats.labels
    n, c = len(y), int(y.max()) + 1
    planted = np.array([p in moved for p in feats.paths])

    def precision(score):  # the k lowest scores
        return float(planted[np.argsort(score, kind="stable")[:len(moved)]].mean())

    def given(probs):
        return probs[np.arange(n), y]

    def margin(probs):
        others = probs.copy()
        others[np.arange(n), y] = -1
        return given(probs) - others.max(axis=1)

    probe = cross_validated_probabilities(feats.features, y, c)
    vote = neighbour_vote(y, c, *nearest_neighbours(feats.features, 20))
    blend = PROBE_WEIGHT * probe + (1 - PROBE_WEIGHT) * vote
    return {"probe, p(given)": precision(given(probe)),
            "probe, normalized margin": precision(margin(probe)),
            "probe, p(given) / class mean": precision(given(probe / class_thresholds(probe, y, c))),
            "neighbour vote alone, p(given)": precision(given(vote)),
            "probe + vote, p(given)": precision(given(blend)),
            "probe + vote, p(given) / class mean (the doctor)": precision(given(blend / class_thresholds(blend, y, c)))}


def duplicate_recall(csv_path: Path, copies: list[tuple[str, str]], rows: int = 200) -> float:
    with open(csv_path, newline="") as fh:
        top = [{r["path_a"], r["path_b"]} for _, r in zip(range(rows), csv.DictReader(fh))]
    return sum({a, b} in top for a, b in copies) / len(copies)


def run_set(name: str, work: Path) -> dict:
    from flowerstudio.core.foundation.config import TrainConfig
    from flowerstudio.core.photos.scan import scan_dataset
    from flowerstudio.core.doctor.diagnose import diagnose
    from flowerstudio.core.doctor.photo_features import photo_features

    planted = plant(SETS[name], work / name)
    cfg = TrainConfig()
    t0 = time.perf_counter()
    diagnose(planted.root, cfg)  # fills the cache (all but the new copies are warm on a rerun of this script)
    cold = time.perf_counter() - t0
    cpu = time.process_time()
    report = diagnose(planted.root, cfg)
    cpu = time.process_time() - cpu
    out = work / f"{name}-report"
    report.save(out)
    moved = set(planted.moved)
    k = len(moved)
    ours = sum(i.path in moved for i in report.label_issues[:k]) / k
    feats = photo_features(scan_dataset(planted.root), cfg)
    return {"set": name, "ablation": ablation(feats, moved), "photos": report.photos, "k": k, "ours": ours,
            "plain": plain_probe_precision(feats, moved), "probe_acc": report.probe_accuracy,
            "recall": duplicate_recall(out / "duplicates.csv", planted.copies), "first_run": cold,
            "warm": report.seconds, "warm_cpu": cpu, "exact": sum(d.kind == "exact" for d in report.duplicates),
            "pairs": len(report.duplicates), "outliers": len(report.outliers)}


def synthetic(n: int, classes: int, dim: int = 1280, seed: int = 0):
    """Unit-length rows around ``classes`` random centres (the spread of real features' classes)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    labels = rng.integers(0, classes, n)
    x = (rng.standard_normal((classes, dim)) * 0.35)[labels] + rng.standard_normal((n, dim))
    x = np.abs(x).astype(np.float32)  # post-ReLU features are non-negative
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x, labels


def timed(fn, *args) -> tuple[float, float]:
    """(wall, CPU) seconds of fn(*args): on a shared machine the CPU time says what an idle one would take."""
    wall, cpu = time.perf_counter(), time.process_time()
    fn(*args)
    return time.perf_counter() - wall, time.process_time() - cpu


def time_examine(n: int, classes: int, work: Path) -> tuple[float, float]:
    from flowerstudio.core.doctor.diagnose import examine
    from flowerstudio.core.doctor.photo_features import PhotoFeatures

    x, labels = synthetic(n, classes)
    feats = PhotoFeatures([str(work / f"{i}.jpg") for i in range(n)], labels, ["train"] * n, x)
    names = [f"c{k}" for k in range(classes)]
    return timed(examine, feats, str(work), names, names, "synthetic")


def duplicate_search(x) -> None:
    from flowerstudio.core.doctor.duplicates import candidate_pairs
    from flowerstudio.core.doctor.neighbours import nearest_neighbours

    candidate_pairs(*nearest_neighbours(x, 20))


def time_duplicate_search(n: int) -> tuple[float, float]:
    x, _ = synthetic(n, 1000, seed=1)
    return timed(duplicate_search, x)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sets", default="clothing,trashnet")
    p.add_argument("--work", default="/tmp/fs-doctor-bench", help="scratch folder (its cache/ is the feature cache)")
    p.add_argument("--rows", type=int, default=100_000, help="rows for the neighbour-search timing")
    args = p.parse_args()
    work = Path(args.work)
    os.environ["FLOWERSTUDIO_CACHE_DIR"] = str(work / "cache")  # never the user's cache
    import torch

    torch.set_num_threads(min(2, os.cpu_count() or 1))
    print(machine())
    print("| set | photos | k (moved) | plain probe P@k | doctor P@k | probe accuracy | copy recall in 200 rows "
          "| first run s | warm-cache run s (CPU s) | exact / all pairs | outliers |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    results = []
    for name in args.sets.split(","):
        r = run_set(name, work)
        results.append(r)
        print(f"| {r['set']} | {r['photos']} | {r['k']} | {r['plain']:.3f} | **{r['ours']:.3f}** | {r['probe_acc']:.3f} "
              f"| {r['recall']:.2f} | {r['first_run']:.1f} | {r['warm']:.1f} ({r['warm_cpu']:.1f}) "
              f"| {r['exact']} / {r['pairs']} "
              f"| {r['outliers']} |", flush=True)
    print("\n| label score (top k over all photos) | " + " | ".join(r["set"] for r in results) + " |")
    print("|---|" + "---|" * len(results))
    for key in results[0]["ablation"]:
        print(f"| {key} | " + " | ".join(f"{r['ablation'][key]:.3f}" for r in results) + " |")
    wall, cpu = time_examine(10_000, 102, work)
    print(f"examine (everything after the feature cache) on 10,000 synthetic rows, 102 classes: "
          f"{wall:.1f} s (CPU {cpu:.1f} s)", flush=True)
    wall, cpu = time_duplicate_search(args.rows)
    print(f"duplicate search (k-NN, k = 20, + candidate pairs) over {args.rows:,} synthetic rows: "
          f"{wall:.1f} s (CPU {cpu:.1f} s); load average now {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
