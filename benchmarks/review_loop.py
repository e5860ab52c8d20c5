"""The review loop's engine side, timed: a 2,000-photo dataset plus 500 new photos; each round
"reviews" the 20 least confident predictions (copies them, correctly labelled, into the class
folders), retrains the head (retrain_head) and refreshes the predictions of the photos not yet
reviewed from the feature cache (CachedPredictor). Target: a round in <= 15 s with a warm cache.

    .venv/bin/python benchmarks/review_loop.py [--dataset-photos 2000] [--new 500] [--review 20] [--rounds 3]

Photos come from clothing-small's train/ (a seeded draw, same class mix as the set), linked into
--work; reviewed photos are real copies, as the app makes them. The feature cache and runs go to
--work too. The first training and the first labelling of the new photos fill the cache.
"""
from __future__ import annotations

import os
import random
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import SHARED, Timer, machine  # noqa: E402


def prepare(work: Path, dataset_photos: int, new_photos: int, seed: int = 0) -> tuple[Path, dict[str, str]]:
    """The dataset (links in class folders) and the new photos (links in one folder): path -> true class."""
    photos = sorted((SHARED / "clothing-small" / "train").glob("*/*.jpg"))
    random.Random(seed).shuffle(photos)
    data, new = work / "dataset", work / "new"
    for path in photos[:dataset_photos]:
        (data / path.parent.name).mkdir(parents=True, exist_ok=True)
        (data / path.parent.name / path.name).symlink_to(path)
    truth = {}
    new.mkdir(parents=True)
    for i, path in enumerate(photos[dataset_photos:dataset_photos + new_photos]):
        link = new / f"new_{i:04d}.jpg"  # the name does not give the class away
        link.symlink_to(path)
        truth[str(link)] = path.parent.name
    return data, truth


def accuracy(predictions, truth: dict[str, str], classes: list[str]) -> float:
    return sum(classes[p.label] == truth[p.path] for p in predictions) / max(len(predictions), 1)


class Clock:
    """Times of the engine's events during a retrain, for where the seconds go."""

    def __init__(self) -> None:
        self.start = time.perf_counter()
        self.marks: dict[str, float] = {}
        self.extracted = 0

    def __call__(self, event) -> None:
        from flowerstudio.core.foundation.events import EpochEnd, PhaseStarted

        now = time.perf_counter() - self.start
        if isinstance(event, PhaseStarted) and event.phase == "extract":
            self.extracted += event.total
            self.marks.setdefault("extract", now)
        elif isinstance(event, PhaseStarted) and event.phase == "train":
            self.marks.setdefault("train", now)
        elif isinstance(event, EpochEnd):
            self.marks["last_epoch"] = now

    def breakdown(self, total: float) -> str:
        m = self.marks
        first = m.get("extract", m["train"])
        return (f"scan + backbone {first:.1f}s, extraction {m['train'] - first:.1f}s, "
                f"epochs + checkpoints {m['last_epoch'] - m['train']:.1f}s, calibration + reload {total - m['last_epoch']:.1f}s")


def main() -> None:
    import argparse

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dataset-photos", type=int, default=2000)
    p.add_argument("--new", type=int, default=500)
    p.add_argument("--review", type=int, default=20)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--work", default="/tmp/flowerstudio-bench-review-loop")
    args = p.parse_args()
    work = Path(args.work)
    if work.exists():
        shutil.rmtree(work)  # a cold start every time: the setup figures mean the same thing
    os.environ["FLOWERSTUDIO_CACHE_DIR"] = str(work / "cache")  # not the user's cache

    from flowerstudio.core.labelling.cached_predict import CachedPredictor, fast_predictor
    from flowerstudio.core.model.model_file import read_model_info
    from flowerstudio.core.foundation.config import TrainConfig
    from flowerstudio.core.labelling.predict import Predictor
    from flowerstudio.core.training.retrain import retrain_head
    from flowerstudio.core.training.trainer import train

    print(machine())
    data, truth = prepare(work, args.dataset_photos, args.new)
    with Timer() as t:
        run = train(TrainConfig(data_dir=str(data), output_dir=str(work / "runs")))
    print(f"setup: first training (cold cache, {args.dataset_photos} photos extracted) {t.seconds:.1f}s; "
          f"{read_model_info(run.best_path).calibration}")
    pending = sorted(truth)
    with Timer() as t:
        full = Predictor(run.best_path, "cpu").predict(pending).predictions
    print(f"setup: labelling the {len(pending)} new photos with the full network (Predictor) {t.seconds:.1f}s")
    predictor = fast_predictor(run.best_path, "cpu")
    assert isinstance(predictor, CachedPredictor)
    with Timer() as t:
        predictions = predictor.predict(pending).predictions
    classes = predictor.info.classes
    diff = max(abs(a.probs - b.probs).max() for a, b in zip(full, predictions))
    print(f"setup: labelling them from the cache (CachedPredictor, cold: all {len(pending)} extracted) "
          f"{t.seconds:.1f}s; largest probability difference from Predictor {diff:.1e}, "
          f"same label for {sum(a.label == b.label for a, b in zip(full, predictions))}/{len(full)}")
    print(f"\nround 0: accuracy of the {len(pending)} predictions {accuracy(predictions, truth, classes):.3f}")
    rows = []
    for round_ in range(1, args.rounds + 1):
        t0 = time.perf_counter()
        # Review: the least confident first; the user gives the true class; copied into its folder.
        reviewed = sorted(predictions, key=lambda p: p.confidence)[:args.review]
        for p in reviewed:
            shutil.copy2(p.path, data / truth[p.path] / f"reviewed_{Path(p.path).name}")
        done = {p.path for p in reviewed}
        pending = [path for path in pending if path not in done]
        t_review = time.perf_counter() - t0
        clock = Clock()
        with Timer() as t_retrain:
            run = retrain_head(run.run_dir, clock)
        with Timer() as t_refresh:
            predictions = CachedPredictor(run.best_path, "cpu").predict(pending).predictions
        total = time.perf_counter() - t0
        fit = run.calibration
        rows.append(f"| {round_} | {t_review:.2f} | {t_retrain.seconds:.1f} ({clock.extracted} extracted) "
                    f"| {t_refresh.seconds:.2f} | **{total:.1f}** | {len(pending)} "
                    f"| {accuracy(predictions, truth, classes):.3f} | {fit.temperature:.2f} |")
        print(rows[-1])
        print(f"   retrain: {clock.breakdown(t_retrain.seconds)}", flush=True)
    with Timer() as t:
        Predictor(run.best_path, "cpu").predict(pending)
    print(f"\nfor comparison, refreshing the last {len(pending)} predictions with the full network: {t.seconds:.1f}s")
    print("\n| round | review (copy) s | retrain head s | refresh predictions s | round total s | photos left "
          "| their accuracy | T |")
    print("|---|---|---|---|---|---|---|---|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
