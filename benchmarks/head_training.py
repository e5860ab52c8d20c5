"""Frozen-backbone training: the plain tutorial loop vs Flower Studio's trainer (feature cache).

Both train the same backbone on the same split with the same seed and epochs. Prints wall
time, best validation accuracy and their ratios, the app's warm-cache rerun, and a sweep of
augmented views per photo in the cache (accuracy per minute).

    .venv/bin/python benchmarks/head_training.py [--views 1,2,4] [--train-per-class 40]
"""
from __future__ import annotations

import copy
import os
import shutil
import sys
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).parent))
from common import Timer, base_parser, machine, subset  # noqa: E402

from flowerstudio.core.config import TrainConfig  # noqa: E402
from flowerstudio.core.models import build_classifier, get_spec  # noqa: E402
from flowerstudio.core.trainer import train  # noqa: E402
from flowerstudio.core.transforms import build_eval_transform, build_train_transform  # noqa: E402


def plain_tutorial_loop(data: Path, args) -> float:
    """The tutorial: ImageFolder, frozen backbone, new head, Adam, StepLR, model.train() every epoch."""
    from torchvision import datasets

    torch.manual_seed(0)
    spec = get_spec(args.backbone)
    cfg = TrainConfig()
    tf = {"train": build_train_transform(cfg.augment, args.input_size, spec.mean, spec.std),
          "valid": build_eval_transform(args.input_size, spec.mean, spec.std)}
    sets = {k: datasets.ImageFolder(str(data / k), tf[k]) for k in tf}
    loaders = {k: torch.utils.data.DataLoader(sets[k], batch_size=args.batch_size, shuffle=k == "train")
               for k in sets}
    model = build_classifier(args.backbone, len(sets["train"].classes))
    for p in model.backbone.parameters():
        p.requires_grad = False
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-3)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=10, gamma=0.1)
    loss_fn = nn.CrossEntropyLoss()
    best_acc, best_w = 0.0, None
    for epoch in range(args.epochs):
        for phase in ("train", "valid"):
            model.train(phase == "train")
            correct = 0
            for x, y in loaders[phase]:
                with torch.set_grad_enabled(phase == "train"):
                    out = model(x)
                    loss = loss_fn(out, y)
                    if phase == "train":
                        opt.zero_grad()
                        loss.backward()
                        opt.step()
                correct += (out.argmax(1) == y).sum().item()
            acc = correct / len(sets[phase])
            if phase == "valid" and acc > best_acc:
                best_acc, best_w = acc, copy.deepcopy(model.state_dict())
        sched.step()
        print(f"  plain epoch {epoch + 1}: val acc {acc:.3f}", flush=True)
    model.load_state_dict(best_w)
    return best_acc


def app(data: Path, args, cache: Path, views: int) -> tuple[float, float]:
    os.environ["FLOWERSTUDIO_CACHE_DIR"] = str(cache)
    cfg = TrainConfig(data_dir=str(data), backbone=args.backbone, input_size=args.input_size, epochs=args.epochs,
                      batch_size=args.batch_size, cache_views=views, output_dir=str(Path(args.work) / "runs"))
    with Timer() as t:
        result = train(cfg)
    return t.seconds, result.best_val_acc


def main() -> None:
    p = base_parser(__doc__)
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--views", default="1,2,4", help="cache views to sweep; the first is compared with the plain loop")
    p.add_argument("--skip-plain", action="store_true")
    args = p.parse_args()
    work = Path(args.work)
    shutil.rmtree(work, ignore_errors=True)
    data = subset(args.data, work / "data", args.train_per_class, args.val_per_class)
    n_train = sum(1 for _ in (data / "train").rglob("*.*"))
    n_val = sum(1 for _ in (data / "valid").rglob("*.*"))
    print(f"machine: {machine()}")
    print(f"data: {args.data} subset, {n_train} train / {n_val} val photos, {args.backbone} @ {args.input_size}px, "
          f"{args.epochs} epochs, batch {args.batch_size}", flush=True)
    views = [int(v) for v in args.views.split(",")]
    rows = []
    for v in views:
        cold_s, cold_acc = app(data, args, work / f"cache-v{v}", v)
        warm_s, warm_acc = app(data, args, work / f"cache-v{v}", v)
        rows.append((v, cold_s, cold_acc, warm_s, warm_acc))
        print(f"  app views={v}: cold {cold_s:.1f}s acc {cold_acc:.3f}; warm {warm_s:.1f}s acc {warm_acc:.3f}",
              flush=True)
    if not args.skip_plain:
        with Timer() as t:
            plain_acc = plain_tutorial_loop(data, args)
        plain_s = t.seconds
        print(f"\nplain tutorial loop: {plain_s:.1f}s, best val acc {plain_acc:.3f}")
    print("\n| cache views | app cold s | speed-up vs plain | best val acc | acc - plain | warm rerun s | warm speed-up |"
          " acc per minute (cold) |")
    print("|---|---|---|---|---|---|---|---|")
    for v, cold_s, cold_acc, warm_s, warm_acc in rows:
        if args.skip_plain:
            plain_s, plain_acc = float("nan"), float("nan")
        print(f"| {v} | {cold_s:.1f} | {plain_s / cold_s:.1f}x | {cold_acc:.3f} | {100 * (cold_acc - plain_acc):+.1f} pt"
              f" | {warm_s:.2f} | {plain_s / warm_s:.0f}x | {cold_acc / (cold_s / 60):.2f} |")


if __name__ == "__main__":
    main()
