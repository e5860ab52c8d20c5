"""How long the head should train in the frozen stage: the tutorial's schedule (10 epochs, StepLR every
10) against the app's default (30 epochs, the rate cut after 20), on held-out photos of both shared sets.

The head trains on cached features, so an epoch costs a fraction of a second and only accuracy and
calibration decide. Each schedule runs with several seeds (head initialisation and batch order): on a
few hundred held-out photos one seed's ECE is mostly noise (see calibration.py's noise floor), so the
table gives the mean and every seed's figure. The cases are calibration.py's:
  small  40 photos per class (the app holds out 8 of them for validation)
  full   every training photo (held-out: the test photos only)

    .venv/bin/python benchmarks/head_epochs.py [--seeds 0,1,2,3,4] [--datasets clothing,trashnet]
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from calibration import figures, prepare  # noqa: E402
from common import Timer, machine  # noqa: E402

SCHEDULES = {"tutorial: 10 epochs, step 10": {"epochs": 10, "step_size": 10},
             "app default: 30 epochs, step 20": {}}


def held_out_figures(model: str, held: dict[str, list[str]]) -> dict[str, dict]:
    """calibration.figures for each group of held-out photos, at the model's own temperature."""
    import numpy as np
    import torch

    from flowerstudio.core.labelling.cached_predict import fast_predictor
    from flowerstudio.core.model.model_file import read_model_info

    photos = sorted(set().union(*held.values()))
    preds = fast_predictor(model, "cpu").predict(photos).predictions  # features from the cache after the first
    logits = torch.from_numpy(np.stack([p.logits for p in preds]))
    labels = torch.tensor([p.true_label for p in preds])
    index = {p: i for i, p in enumerate(photos)}
    temperature = read_model_info(model).temperature
    return {name: figures(logits[[index[p] for p in group]], labels[[index[p] for p in group]], temperature)
            for name, group in held.items()}


def main() -> None:
    import argparse

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--datasets", default="clothing,trashnet")
    p.add_argument("--cases", default="small,full")
    p.add_argument("--seeds", default="0,1,2,3,4")
    p.add_argument("--work", default="/tmp/flowerstudio-bench-calibration")  # calibration.py's: its cache too
    args = p.parse_args()
    work = Path(args.work)
    os.environ["FLOWERSTUDIO_CACHE_DIR"] = str(work / "cache")

    from flowerstudio.core.foundation.config import TrainConfig
    from flowerstudio.core.labelling.predict import list_images
    from flowerstudio.core.training.trainer import train

    print(machine())
    seeds = [int(s) for s in args.seeds.split(",")]
    rows = []
    for dataset in args.datasets.split(","):
        folders = prepare(dataset, work, 40)
        for case in args.cases.split(","):
            held = {"test": list_images([folders["test"]])}
            if case == "small":
                held["unused"] = list_images([folders["unused"]])
            for name, schedule in SCHEDULES.items():
                runs = []
                with Timer() as t:
                    for seed in seeds:
                        cfg = TrainConfig(data_dir=str(folders[case]), output_dir=str(work / "runs" / dataset),
                                          seed=seed, **schedule)
                        runs.append(held_out_figures(train(cfg).best_path, held))
                for group in held:
                    acc = [r[group]["acc"] for r in runs]
                    ece = [r[group]["cal"][1] for r in runs]
                    raw = [r[group]["raw"][1] for r in runs]
                    row = (f"| {dataset} | {case} | {group} ({runs[0][group]['photos']}) | {name} "
                           f"| {sum(acc) / len(acc):.3f} | {sum(raw) / len(raw):.3f} | **{sum(ece) / len(ece):.3f}** "
                           f"| {' '.join(f'{e:.3f}' for e in ece)} | {runs[0][group]['floor']:.3f} |")
                    rows.append(row)
                    print(row, f"({t.seconds:.0f} s for {len(seeds)} runs)", flush=True)
    print(f"\n| dataset | training | held-out photos | schedule | accuracy (mean of {len(seeds)} seeds) "
          "| ECE raw softmax (mean) | ECE calibrated (mean) | ECE calibrated per seed | ECE noise floor |")
    print("|---|---|---|---|---|---|---|---|---|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
