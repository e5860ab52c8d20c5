"""Calibrated confidence: expected calibration error before and after temperature scaling, on
held-out photos of the shared sets (clothing-small's test split; a held-out fifth of TrashNet).

Three trainings per dataset, each with the app's defaults (the temperature is fitted on the run's
own validation split; the held-out photos are never seen):
  small     the frozen stage on 40 photos per class (one folder per class: the app holds out 20 %,
            so T is fitted on 8 photos per class) — the underconfident case
  full      the frozen stage on every training photo
  finetune  the full run's best model fine-tuned (all layers, lr 1e-4, --finetune-epochs)

    .venv/bin/python benchmarks/calibration.py [--datasets clothing,trashnet] [--cases small,full,finetune]

Photos are linked (not copied) into --work; the feature cache and runs go there too.
"""
from __future__ import annotations

import os
import random
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import SHARED, Timer, hold_out_fifth, link_into, machine, photos_by_class  # noqa: E402


def prepare(dataset: str, work: Path, per_class: int, seed: int = 0) -> dict[str, Path]:
    """Folders of links: 'small' and 'full' training sets and the held-out 'test' photos, and
    'unused': every photo of the set the small run never saw (the test photos included)."""
    rng = random.Random(seed)
    out = {name: work / f"{dataset}-{name}" for name in ("small", "full", "test", "unused")}
    if dataset == "clothing":
        root = SHARED / "clothing-small"
        pool = photos_by_class(root / "train")
        for split in ("train", "validation"):  # the ready-made split, as it is
            for cls, paths in photos_by_class(root / split).items():
                link_into(out["full"] / split / cls, paths)
        for cls, paths in photos_by_class(root / "test").items():
            link_into(out["test"] / cls, paths)
    else:  # TrashNet has no split: a fifth of each class is held out for testing
        pool = hold_out_fifth(SHARED / "trashnet", out["test"], out["full"], rng)
    seen = set()
    for cls, paths in pool.items():
        picked = sorted(rng.sample(sorted(paths), per_class))
        link_into(out["small"] / cls, picked)
        seen.update(picked)
    source = SHARED / ("clothing-small" if dataset == "clothing" else "trashnet")
    for path in sorted(source.rglob("*.jpg")):
        if str(path) not in seen:
            link_into(out["unused"] / path.parent.name, [path])
    return out


def held_out_logits(model: str, photos: list[str]):
    """Logits and true labels (the class folder) of ``photos`` under ``model``, from the app's Predictor."""
    import numpy as np
    import torch

    from flowerstudio.core.labelling.predict import Predictor

    preds = Predictor(model, "cpu").predict(photos).predictions
    return torch.from_numpy(np.stack([p.logits for p in preds])), torch.tensor([p.true_label for p in preds])


def figures(logits, labels, temperature: float) -> dict:
    """Accuracy, mean confidence and ECE of the raw softmax, at the stored T, and at the best T for these
    very photos (an oracle: what one scalar can do at most), and the ECE a perfectly calibrated model
    would still show on this many photos (the estimate's noise floor)."""
    import torch

    from flowerstudio.core.model.calibration import expected_calibration_error, fit_temperature, reliability

    def at(t: float) -> tuple[float, float]:
        conf, label = torch.softmax(logits / t, 1).max(1)
        right = (label == labels).tolist()
        return conf.mean().item(), expected_calibration_error(reliability(conf.tolist(), right))

    oracle = fit_temperature(logits, labels).temperature
    conf = torch.softmax(logits / temperature, 1).max(1).values
    gen = torch.Generator().manual_seed(0)
    floor = sum(expected_calibration_error(reliability(conf.tolist(), (torch.rand(len(conf), generator=gen) < conf)
                                                       .tolist())) for _ in range(200)) / 200
    return {"acc": (logits.argmax(1) == labels).float().mean().item(), "raw": at(1.0), "cal": at(temperature),
            "oracle_t": oracle, "oracle": at(oracle), "floor": floor, "photos": len(labels)}


def main() -> None:
    import argparse

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--datasets", default="clothing,trashnet")
    p.add_argument("--cases", default="small,full,finetune")
    p.add_argument("--per-class", type=int, default=40, help="photos per class of the 'small' case")
    p.add_argument("--finetune-epochs", type=int, default=2)
    p.add_argument("--work", default="/tmp/flowerstudio-bench-calibration")
    args = p.parse_args()
    work = Path(args.work)
    os.environ["FLOWERSTUDIO_CACHE_DIR"] = str(work / "cache")  # not the user's cache

    from flowerstudio.core.model.model_file import read_model_info
    from flowerstudio.core.foundation.config import TrainConfig
    from flowerstudio.core.labelling.evaluate import evaluate
    from flowerstudio.core.labelling.predict import list_images
    from flowerstudio.core.training.trainer import train

    print(machine())
    cases = args.cases.split(",")
    rows = []
    for dataset in args.datasets.split(","):
        folders = prepare(dataset, work, args.per_class)
        best = {}
        for case in cases:
            source = "full" if case == "finetune" else case
            if case == "finetune" and "full" not in best:
                continue
            cfg = TrainConfig(data_dir=str(folders[source]), output_dir=str(work / "runs" / dataset))
            if case == "finetune":
                # From a copy outside the run: a run folder of its own, whose best model is fine-tuned.
                start = work / "runs" / f"{dataset}-full-best.safetensors"
                shutil.copyfile(best["full"], start)
                cfg.train_mode, cfg.lr, cfg.epochs, cfg.resume_from = "all", 1e-4, args.finetune_epochs, str(start)
            with Timer() as t:
                result = train(cfg)
            best[case] = result.best_path
            info = read_model_info(result.best_path)
            print(f"{dataset} {case}: trained in {t.seconds:.0f}s, best validation accuracy "
                  f"{result.best_val_acc:.3f}; {info.calibration}", flush=True)
            held = {"test": list_images([folders["test"]])}
            if case == "small":
                held["unused"] = list_images([folders["unused"]])
            logits, labels = held_out_logits(result.best_path, sorted(set().union(*held.values())))
            index = {p: i for i, p in enumerate(sorted(set().union(*held.values())))}
            for name, photos in held.items():
                rows_of = [index[p] for p in photos]
                m = figures(logits[rows_of], labels[rows_of], info.temperature)
                fitted = f"{info.temperature:.2f} ({result.calibration.photos})" if result.calibration else "-"
                row = (f"| {dataset} | {case} | {name} ({m['photos']}) | {fitted} "
                       f"| {m['acc']:.3f} | {m['raw'][0]:.3f} / {m['cal'][0]:.3f} | {m['raw'][1]:.3f} "
                       f"| **{m['cal'][1]:.3f}** | {m['oracle_t']:.2f}: {m['oracle'][1]:.3f} | {m['floor']:.3f} |")
                rows.append(row)
                print(row, flush=True)
            if case == "small":  # the same figure as 'flowerstudio evaluate' writes into report.json
                report = evaluate(result.best_path, folders["test"], "all", device="cpu")
                assert abs(report.ece - figures(*held_out_logits(result.best_path, held["test"]),
                                                info.temperature)["cal"][1]) < 1e-6
    print("\n| dataset | training | held-out photos | T (validation photos it was fitted on) | accuracy "
          "| mean confidence raw / calibrated | ECE raw softmax | ECE calibrated | best T for these photos: ECE "
          "| ECE noise floor |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
