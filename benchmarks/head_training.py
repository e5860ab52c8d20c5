"""Frozen-backbone training, end to end: Flower Studio's trainer (feature cache) against the tutorial's
loop and an expert's plain PyTorch, on the same split with the same seed, in one run.

- tutorial: ImageFolder, frozen backbone left in train mode, a new head, every photo augmented and
  through the whole network every epoch (the tutorial's recipe): --epochs (10), StepLR every 10.
- expert: backbone in eval mode, channels-last, features of the clean photos extracted once, the
  same head training on them, with the app's default schedule (30 epochs, the rate cut after 20).
- app, cold cache: the default frozen stage (its own schedule, config.HEAD_EPOCHS) with no features cached (its ONNX graph exported by an
  earlier run, as on any machine after its first run); app, warm cache: the same run again.

The sides take turns, best of --repeats. Two more sides take their turns with them for the floor: decoding
every photo alone, and the app's engine alone on the photos decoded beforehand. Their CPU time over the
cores is the least any run that decodes the photos and runs them through this network can take here
(sharing the cores only adds to it), so tutorial / floor is the most such a run can reach on this machine.
Optionally a sweep of augmented views per photo in the cache (accuracy per minute).

    .venv/bin/python benchmarks/head_training.py [--views 1,2,4] [--train-per-class 40] [--repeats 3]
"""
from __future__ import annotations

import copy
import os
import shutil
import sys
import time
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).parent))
from common import Timer, base_parser, best_of, machine, subset  # noqa: E402

from flowerstudio.core.foundation.config import TrainConfig  # noqa: E402
from flowerstudio.core.runtime.inference import GRAPH_FILE, InferenceNet  # noqa: E402
from flowerstudio.core.runtime.loader import ImageDataset, decoded_batches, decoding_plan  # noqa: E402
from flowerstudio.core.model.classifier import build_classifier, get_spec  # noqa: E402
from flowerstudio.core.training.trainer import train  # noqa: E402
from flowerstudio.core.model.preprocessing import Preprocessing, resize_for
from flowerstudio.core.foundation.config import AugmentConfig
from flowerstudio.core.runtime.transforms import eval_transform, train_transform  # noqa: E402


def plain_tutorial_loop(data: Path, args) -> float:
    """The tutorial: ImageFolder, frozen backbone, new head, Adam, StepLR, model.train() every epoch."""
    from torchvision import datasets

    torch.manual_seed(0)
    spec = get_spec(args.backbone)
    cfg = TrainConfig()
    tf = {"train": train_transform(Preprocessing.of(args.input_size, spec.mean, spec.std), cfg.augment),
          "valid": eval_transform(Preprocessing.of(args.input_size, spec.mean, spec.std))}
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


def expert_loop(data: Path, args) -> float:
    """Plain PyTorch done well: the frozen backbone in eval mode, channels-last, features extracted once
    (clean photos, a DataLoader with decoding processes), then the same head training on the features."""
    from torchvision import datasets

    torch.manual_seed(0)
    spec = get_spec(args.backbone)
    tf = eval_transform(Preprocessing.of(args.input_size, spec.mean, spec.std))
    sets = {k: datasets.ImageFolder(str(data / k), tf) for k in ("train", "valid")}
    model = build_classifier(args.backbone, len(sets["train"].classes)).eval().to(memory_format=torch.channels_last)
    feats = {}
    with torch.inference_mode():
        for k, ds in sets.items():
            loader = torch.utils.data.DataLoader(ds, batch_size=args.batch_size, num_workers=2)
            xs, ys = zip(*[(model.backbone(x.contiguous(memory_format=torch.channels_last)), y) for x, y in loader])
            feats[k] = (torch.cat(xs), torch.cat(ys))
    head = model.head
    schedule = TrainConfig().validate()  # the app's default frozen stage: the same work as the app side
    opt = torch.optim.Adam(head.parameters(), lr=1e-3)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=schedule.step_size, gamma=0.1)
    # Out of inference mode: autograd keeps the head's inputs for its backward pass.
    (x, y), (vx, vy) = [(f.clone(), labels) for f, labels in (feats["train"], feats["valid"])]
    best_acc = 0.0
    for _ in range(schedule.epochs):
        for idx in torch.randperm(len(y)).split(args.batch_size):
            loss = nn.functional.cross_entropy(head(x[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
        sched.step()
        with torch.no_grad():
            best_acc = max(best_acc, (head(vx).argmax(1) == vy).float().mean().item())
    return best_acc


def app(data: Path, args, cache: Path, views: int) -> tuple[float, float]:
    os.environ["FLOWERSTUDIO_CACHE_DIR"] = str(cache)
    cfg = TrainConfig(data_dir=str(data), backbone=args.backbone, input_size=args.input_size,
                      batch_size=args.batch_size, cache_views=views, output_dir=str(Path(args.work) / "runs"))
    with Timer() as t:
        result = train(cfg)
    return t.seconds, result.best_val_acc


def floor_sides(data: Path, args, cpu: dict) -> dict:
    """Two more sides: decoding all the photos alone (the app's decoding threads), and running them, decoded
    beforehand, through the app's engine alone (its session opened beforehand). Each keeps its least CPU
    time (all threads) in ``cpu``."""
    spec = get_spec(args.backbone)
    paths = sorted(str(p) for p in data.rglob("*.*"))
    dataset = ImageDataset(paths, [0] * len(paths), eval_transform(Preprocessing.of(args.input_size, spec.mean, spec.std)),
                           min_side=resize_for(args.input_size, AugmentConfig().resize_ratio))
    net = InferenceNet(build_classifier(args.backbone, 10).backbone, torch.device("cpu"))
    plan = decoding_plan(torch.device("cpu"))  # the app's decoding threads
    batches = [b.images for b in decoded_batches(dataset, args.batch_size, *plan)]
    net(batches[0])

    def cpu_timed(name, fn):
        def run():
            start = time.process_time()
            fn()
            cpu[name] = min(cpu.get(name, float("inf")), time.process_time() - start)
        return run

    return {"decoding alone": cpu_timed("decoding", lambda: list(decoded_batches(dataset, args.batch_size, *plan))),
            "network alone": cpu_timed("network", lambda: [net(x) for x in batches])}


def forget_features(cache: Path) -> None:
    """Empty the feature cache but keep the exported ONNX graph: a new dataset's first run."""
    for entry in cache.iterdir() if cache.is_dir() else ():
        if entry.is_dir() and not (entry / GRAPH_FILE).exists():
            shutil.rmtree(entry)


def main() -> None:
    p = base_parser(__doc__)
    p.add_argument("--epochs", type=int, default=10, help="the tutorial's epochs (the others: the app's default)")
    p.add_argument("--views", default="1", help="cache views: the first is compared with the references, "
                                                "the others (e.g. 1,2,4) run once after")
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args()
    work = Path(args.work)
    shutil.rmtree(work, ignore_errors=True)
    data = subset(args.data, work / "data", args.train_per_class, args.val_per_class)
    n_train = sum(1 for _ in (data / "train").rglob("*.*"))
    n_val = sum(1 for _ in (data / "valid").rglob("*.*"))
    print(f"machine: {machine()}")
    print(f"data: {args.data} subset, {n_train} train / {n_val} val photos, {args.backbone} @ {args.input_size}px, "
          f"tutorial {args.epochs} epochs, app and expert {TrainConfig().validate().epochs}, batch {args.batch_size}, "
          f"best of {args.repeats}", flush=True)
    views = [int(v) for v in args.views.split(",")]
    cache = work / "cache"
    first_s, _ = app(data, args, cache, views[0])  # a machine's very first run: exports the ONNX graph
    print(f"  app, first run on this machine (ONNX export included): {first_s:.1f}s", flush=True)
    acc: dict[str, float] = {}

    def side(name, fn):
        def run():
            acc[name] = fn()
            print(f"  {name}: val acc {acc[name]:.3f}", flush=True)
        return run

    def cold():
        forget_features(cache)
        return app(data, args, cache, views[0])[1]

    cpu: dict[str, float] = {}
    best = best_of(args.repeats, {
        "tutorial": side("tutorial", lambda: plain_tutorial_loop(data, args)),
        "expert": side("expert", lambda: expert_loop(data, args)),
        "app, cold cache": side("app, cold cache", cold),
        "app, warm cache": side("app, warm cache", lambda: app(data, args, cache, views[0])[1]),
        **floor_sides(data, args, cpu),
    })
    print("\n| side | seconds | best val acc | app cold is | app warm is |")
    print("|---|---|---|---|---|")
    for k in acc:
        s = best[k]
        print(f"| {k} | {s:.1f} | {acc[k]:.3f} | {s / best['app, cold cache']:.1f}x | "
              f"{s / best['app, warm cache']:.0f}x |")
    cores = len(os.sched_getaffinity(0))
    least = (cpu["decoding"] + cpu["network"]) / cores
    print(f"\nfloor: decoding the {n_train + n_val} photos alone {best['decoding alone']:.2f} s "
          f"({cpu['decoding']:.2f} s of CPU), the network alone on them {best['network alone']:.2f} s "
          f"({cpu['network']:.2f} s of CPU): on {cores} cores no run can take less than {least:.2f} s, at most "
          f"{best['tutorial'] / least:.1f}x the tutorial. The app's cold run takes {best['app, cold cache'] - least:.2f} s "
          f"more (its scan, head epochs and files, and what the overlap of decoding and network loses)")
    if len(views) > 1:
        print("\n| cache views | app cold s | best val acc | warm rerun s | acc per minute (cold) |")
        print("|---|---|---|---|---|")
        for v in views:
            cold_s, cold_acc = app(data, args, work / f"cache-v{v}", v)
            warm_s, _ = app(data, args, work / f"cache-v{v}", v)
            print(f"| {v} | {cold_s:.1f} | {cold_acc:.3f} | {warm_s:.2f} | {cold_acc / (cold_s / 60):.2f} |")
    print(f"\nload average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
