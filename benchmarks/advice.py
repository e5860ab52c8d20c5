"""Does following the app's advice after the first stage ever cost validation accuracy?

For each shared photo set and 10, 40 and 150 training photos per class (or all a class has): train
the frozen stage with the app's defaults, ask ``core.advice`` for the next step, then run both
branches from copies of that run:

- followed:     the advised step (train the head more, fine-tune the last stages or all layers, or stop);
- not followed: what the app did before it gave advice — fine-tune all layers for 5 epochs — or, when
                that is exactly the advice, stop after the first stage.

The figures are the accuracy of the model each branch keeps (the run's best epoch) on the run's own
validation photos — what the app selects on, so a branch that trains more can only gain there — and on
held-out photos no run sees (clothing-small's test split; a fixed fifth of TrashNet), the fairer judge.

    python benchmarks/advice.py            # both sets, all sizes (about an hour on 2 cores)
    python benchmarks/advice.py --sets trashnet --sizes 10 40
"""
from __future__ import annotations

import argparse
import random
import shutil
import time
from pathlib import Path

from common import SHARED, hold_out_fifth, machine, subset

from flowerstudio.core.training.plan import NextStep, advise
from flowerstudio.core.labelling.evaluate import evaluate
from flowerstudio.core.foundation.config import TrainConfig
from flowerstudio.core.photos.scan import scan_dataset
from flowerstudio.core.training.trainer import train

SETS = {"clothing": SHARED / "clothing-small", "trashnet": SHARED / "trashnet"}
FT_LR = 1e-4  # the app's second-step learning rate (first step's 1e-3 x 0.1)
OLD_DEFAULT = ("all", 2, 5)  # (mode, stages, epochs): the app's second step before it gave advice


def held_out(name: str, data: Path, work: Path) -> tuple[Path, Path]:
    """(the photos training draws from, the held-out test photos), as folders of links."""
    if name == "clothing":
        return data, data / "test"  # its ready-made split; subset() draws from train/ and validation/
    pool, test = work / f"{name}-pool", work / f"{name}-test"
    hold_out_fifth(data, test, pool, random.Random(0))
    return pool, test


def second_step(run: Path, data: Path, out: Path, mode: str, stages: int, epochs: int):
    """Continue a copy of ``run`` with one more stage; the training result (its kept model and accuracy)."""
    branch = out / f"{run.name}-{mode}-{epochs}"
    shutil.copytree(run, branch)
    lr = TrainConfig().lr if mode == "frozen" else FT_LR  # as the app: more head epochs at the head's rate
    cfg = TrainConfig(data_dir=str(data), train_mode=mode, unfreeze_stages=stages, epochs=epochs, lr=lr,
                      resume_from=str(branch / "best.safetensors"), output_dir=str(out), device="cpu")
    return train(cfg)


def one(name: str, data: Path, test: Path, per_class: int, work: Path) -> dict:
    folder = subset(str(data), work / f"{name}-{per_class}", per_class, 0)
    scan = scan_dataset(str(folder), check_images=False)
    photos = len(scan.train) / len(scan.classes)
    first = train(TrainConfig(data_dir=str(folder), output_dir=str(work / "runs"), device="cpu"))
    advice = advise(first.history, len(scan.classes), photos)
    out = work / "branches"
    followed = first
    if advice.step in (NextStep.TRAIN_MORE, NextStep.FINE_TUNE):
        followed = second_step(Path(first.run_dir), folder, out, str(advice.mode), advice.stages, advice.epochs)
    mode, stages, epochs = OLD_DEFAULT
    if advice.step is NextStep.FINE_TUNE and str(advice.mode) == mode:
        other = first  # the advice is the old default: not following it means stopping
    else:
        other = second_step(Path(first.run_dir), folder, out, mode, stages, epochs)
    tested = {r.best_path: evaluate(r.best_path, test, "all", device="cpu").accuracy for r in (first, followed, other)}
    return {"set": name, "per_class": per_class, "photos_per_class": photos, "first": first.best_val_acc,
            "advice": f"{advice.step}" + (f" {advice.mode}" if advice.step is NextStep.FINE_TUNE else ""),
            "followed": followed.best_val_acc, "not_followed": other.best_val_acc,
            "test": [tested[r.best_path] for r in (first, followed, other)]}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sets", nargs="+", default=list(SETS), choices=list(SETS))
    p.add_argument("--sizes", nargs="+", type=int, default=[10, 40, 150])
    p.add_argument("--work", default="/tmp/flowerstudio-bench-advice")
    args = p.parse_args()
    work = Path(args.work)
    shutil.rmtree(work, ignore_errors=True)
    print(machine())
    print("| set | photos/class (train) | first stage | advice | followed | not followed | followed - not "
          "| held out: first stage | followed | not followed | followed - not |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    start = time.perf_counter()
    for name in args.sets:
        pool, test = held_out(name, SETS[name], work)
        for n in args.sizes:
            r = one(name, pool, test, n, work)
            t0, t1, t2 = r["test"]
            print(f"| {r['set']} | {n} ({r['photos_per_class']:.0f}) | {100 * r['first']:.1f}% | {r['advice']} | "
                  f"{100 * r['followed']:.1f}% | {100 * r['not_followed']:.1f}% | "
                  f"{100 * (r['followed'] - r['not_followed']):+.1f} | {100 * t0:.1f}% | {100 * t1:.1f}% | "
                  f"{100 * t2:.1f}% | {100 * (t1 - t2):+.1f} |", flush=True)
    print(f"total {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
