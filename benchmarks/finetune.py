"""Fine-tuning on the CPU: photos/s of one fine-tuning epoch in the app's trainer against an expert's plain
PyTorch loop, all layers and the last two stages, with every candidate for a cheaper step measured beside
them in the same run; then best validation accuracy after the same epochs, over seeds, on two photo sets.

Speed (--part speed): the sides take turns, best of --repeats, on the same photos, model and batch size.
- tutorial: ImageFolder + DataLoader + model.train() (BatchNorm statistics update); all layers only.
- expert: the same loop done well: channels-last, BatchNorm in inference mode while the weights train
  (the app's default freeze_bn_stats), the frozen stages' weights left out of the optimizer; Adam as
  torch gives it (per-tensor). Decoding in the loop (num_workers=0): worker processes or threads beside
  the step share the same two cores (threads beside it measured no faster: benchmarks/README.md).
- app, app float32: the training pass of the second epoch of the app's fine-tuning stage, timed from its
  events (the photos kept decoded since the first, runtime/kept.py, and augmented by threads taking turns
  with the step, runtime/augment.py), with the config's mixed precision (bfloat16 here) and without (amp
  off); "app, first epoch" rows: the first epoch of the same runs, which decodes every photo.
- candidates: the expert's loop with one change each (fused Adam, BatchNorm folded into the convolutions,
  bfloat16 autocast, bfloat16 with the slow depthwise convolutions in float32, TF-"same" padding by wider
  kernels, all of them (the app's step), torch.compile). A compiled side runs its first batch, which
  compiles (its seconds are shown), and COMPILED_STEPS more, its photos/s.

Accuracy (--part accuracy): the app (bfloat16 step), the app with a float32 step, the expert's loop (float32,
the app's learning rates: head 10 x --lr, backbone --lr) and the same loop with progressive resizing (fastai:
the first half of the epochs at --small px, the rest at full size), each from the ImageNet weights and a new
head, --epochs epochs: best validation accuracy for seeds --seeds on clothing-small and TrashNet, and the
training photos/s of those runs.

Not measured: CUDA (no GPU here). There the step keeps AMP (bfloat16 or float16 with a GradScaler) and
pinned memory; BatchNorm folding is CPU-only.

    .venv/bin/python benchmarks/finetune.py [--part all|speed|accuracy] [--repeats 3] [--seeds 0,1,2]
"""
from __future__ import annotations

import contextlib
import os
import shutil
import statistics
import sys
import time
from itertools import islice
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).parent))
from common import SHARED, base_parser, machine, subset  # noqa: E402

from flowerstudio.core.foundation.config import TrainConfig  # noqa: E402
from flowerstudio.core.foundation.events import PhaseStarted  # noqa: E402
from flowerstudio.core.model.classifier import build_classifier, get_spec  # noqa: E402
from flowerstudio.core.model.preprocessing import Preprocessing  # noqa: E402
from flowerstudio.core.runtime.transforms import eval_transform, train_transform  # noqa: E402
from flowerstudio.core.training.lean import cpu_has_bf16, lean  # noqa: E402
from flowerstudio.core.training.trainer import train  # noqa: E402

DEPTHS = ("all", "last_stages")
COMPILED_STEPS = 5
# name: the expert's loop with these changes (plain_loop's keywords)
APP_STEP = "expert + BN folded + bf16 + wider kernels (app's step)"
CANDIDATES = {
    "expert + fused Adam": dict(fused=True),
    "expert + BN folded": dict(fold=True),
    "expert + bf16 autocast": dict(bf16="autocast"),
    "expert + bf16, slow depthwise fp32": dict(bf16="lean"),
    "expert + same padding by wider kernels": dict(wide=True),
    "expert + BN folded + bf16 (app's step before)": dict(fused=True, fold=True, bf16="lean"),
    APP_STEP: dict(fused=True, fold=True, bf16="lean", wide=True),
    "expert + torch.compile": dict(compiled=True),
    "app's step + torch.compile": dict(fused=True, fold=True, bf16="lean", wide=True, compiled=True),
}


def _model(args, classes: int, depth: str, seed: int, tutorial: bool = False) -> nn.Module:
    torch.manual_seed(seed)
    model = build_classifier(args.backbone, classes)
    model.set_trainable(depth, 2, freeze_bn_stats=not tutorial)  # requires_grad off, eval mode for what is frozen
    return model if tutorial else model.to(memory_format=torch.channels_last)


def _optimizer(model: nn.Module, lr: float, fused: bool = False) -> torch.optim.Optimizer:
    head = list(model.head.parameters())
    body = [p for p in model.backbone.parameters() if p.requires_grad]
    groups = [{"params": head, "lr": lr}] + ([{"params": body, "lr": lr * 0.1}] if body else [])
    return torch.optim.Adam(groups, lr=lr, fused=fused or None)


def plain_loop(data: Path, args, depth: str, tutorial: bool = False, fused: bool = False, fold: bool = False,
               bf16: str = "", wide: bool = False, compiled: bool = False) -> dict:
    """One epoch of a plain loop; photos/s, where its time went, and (compiled) the seconds spent compiling."""
    from torchvision import datasets

    spec = get_spec(args.backbone)
    tf = train_transform(Preprocessing.of(args.input_size, spec.mean, spec.std), TrainConfig().augment)
    ds = datasets.ImageFolder(str(data / "train"), tf)
    model = _model(args, len(ds.classes), depth, 0, tutorial).train()
    opt = _optimizer(model, args.lr, fused)
    net = torch.compile(model) if compiled else model
    patched = (lean(model, args.input_size, fold=fold, wide=wide) if fold or wide or bf16 == "lean"
               else contextlib.nullcontext())
    split = {"data": 0.0, "forward": 0.0, "backward+step": 0.0}
    steady, compiling, shapes = [0, 0.0], 0.0, set()
    batches = torch.utils.data.DataLoader(ds, batch_size=args.batch_size, shuffle=True)
    if compiled:  # its first batch compiles, then COMPILED_STEPS steady ones: its photos/s, in minutes, not hours
        batches = islice(batches, 1 + COMPILED_STEPS)
    with patched:
        start = t = time.perf_counter()
        for x, y in batches:
            t1 = time.perf_counter()
            if not tutorial:
                x = x.contiguous(memory_format=torch.channels_last)
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bool(bf16)):
                loss = nn.functional.cross_entropy(net(x), y)
            t2 = time.perf_counter()
            opt.zero_grad()
            loss.backward()
            opt.step()
            t3 = time.perf_counter()
            split["data"] += t1 - t
            split["forward"] += t2 - t1
            split["backward+step"] += t3 - t2
            if compiled and x.shape not in shapes:  # a new shape compiles
                shapes.add(x.shape)
                compiling += t3 - t
            else:
                steady = [steady[0] + len(y), steady[1] + t3 - t]
            t = time.perf_counter()
        seconds = time.perf_counter() - start
    rate = steady[0] / steady[1] if compiled else len(ds) / seconds
    return {"rate": rate, "split": {k: v / seconds for k, v in split.items()}, "compile": compiling}


def _config(data: Path, args, depth: str, **kw) -> TrainConfig:
    return TrainConfig(data_dir=str(data), backbone=args.backbone, input_size=args.input_size,
                       batch_size=args.batch_size, train_mode=depth, output_dir=str(Path(args.work) / "runs"), **kw)


def app_epoch(data: Path, args, depth: str, amp: bool) -> tuple[dict, dict]:
    """The training passes of the first and the second epoch of the app's fine-tuning stage (from its events):
    the first decodes every photo, the second augments the photos kept decoded (runtime/kept.py)."""
    marks = {}

    def callback(event):
        if isinstance(event, PhaseStarted) and event.phase in ("train", "validate"):
            marks.setdefault((event.phase, event.epoch), time.perf_counter())

    result = train(_config(data, args, depth, epochs=2, lr=args.lr * 10, amp=amp), callback)
    n = sum(1 for _ in (data / "train").rglob("*.*"))
    first, later = (n / (marks["validate", e] - marks["train", e]) if result.status == "completed" else float("nan")
                    for e in sorted({e for _, e in marks}))
    return {"rate": first, "split": {}, "compile": 0.0}, {"rate": later, "split": {}, "compile": 0.0}


def speed(data: Path, args) -> None:
    n = sum(1 for _ in (data / "train").rglob("*.*"))
    print(f"\n## speed: {args.backbone} @ {args.input_size}px, batch {args.batch_size}, {n} training photos, "
          f"one epoch, sides taking turns, best of {args.repeats}", flush=True)
    for depth in DEPTHS:
        sides = {} if depth != "all" else {"tutorial": lambda d=depth: plain_loop(data, args, d, tutorial=True)}
        sides["expert"] = lambda d=depth: plain_loop(data, args, d)
        sides["app"] = lambda d=depth: app_epoch(data, args, d, amp=True)  # two rows: its first and second epoch
        sides["app, float32 step"] = lambda d=depth: app_epoch(data, args, d, amp=False)
        for name, kw in CANDIDATES.items():
            sides[name] = lambda d=depth, kw=kw: plain_loop(data, args, d, **kw)
        runs: dict[str, list[dict]] = {}
        for turn in range(args.repeats):
            for name, fn in sides.items():
                result = fn()
                if name in ("app", "app, float32 step"):  # the second epoch; "app, first epoch": the first
                    runs.setdefault(name.replace("app", "app, first epoch", 1), []).append(result[0])
                    result = result[1]
                runs.setdefault(name, []).append(result)
            print(f"  {depth}, turn {turn + 1}: " + ", ".join(f"{k} {v[-1]['rate']:.1f}" for k, v in runs.items()),
                  flush=True)
        _speed_table(depth, runs)


def _speed_table(depth: str, runs: dict) -> None:
    best = {k: max(r["rate"] for r in v) for k, v in runs.items()}
    median = {k: statistics.median(r["rate"] for r in v) for k, v in runs.items()}
    print(f"\n### {depth}\n\n| side | photos/s (best) | x expert | photos/s (median) | x expert |\n|---|---|---|---|---|")
    for k in runs:
        note = f" (compiling: {max(r['compile'] for r in runs[k]):.0f} s)" if runs[k][0]["compile"] else ""
        print(f"| {k}{note} | {best[k]:.1f} | {best[k] / best['expert']:.2f}x | {median[k]:.1f} | "
              f"{median[k] / median['expert']:.2f}x |")
    for k in ("tutorial", "expert", APP_STEP):
        if k in runs:
            split = runs[k][-1]["split"]
            print(f"- {k}: time split " + ", ".join(f"{n} {100 * v:.0f} %" for n, v in split.items()))


def expert_accuracy(data: Path, args, depth: str, seed: int, small: int = 0) -> tuple[float, float]:
    """Best validation accuracy of the expert's loop (float32) after --epochs epochs, and its training photos/s.
    ``small``: progressive resizing (fastai): the first half of the epochs at ``small`` px, the rest at full size."""
    from torchvision import datasets

    spec = get_spec(args.backbone)
    pre = {size: Preprocessing.of(size, spec.mean, spec.std) for size in {args.input_size, small or args.input_size}}
    sets = {"train": datasets.ImageFolder(str(data / "train")),
            "valid": datasets.ImageFolder(str(data / "valid"), eval_transform(pre[args.input_size]))}
    model = _model(args, len(sets["train"].classes), depth, seed)
    opt = _optimizer(model, args.lr * 10)
    best, photos, seconds = 0.0, 0, 0.0
    for epoch in range(args.epochs):
        size = small if small and epoch < args.epochs // 2 else args.input_size
        sets["train"].transform = train_transform(pre[size], TrainConfig().augment)
        model.train()
        t = time.perf_counter()
        for x, y in torch.utils.data.DataLoader(sets["train"], batch_size=args.batch_size, shuffle=True):
            loss = nn.functional.cross_entropy(model(x.contiguous(memory_format=torch.channels_last)), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
        photos, seconds = photos + len(sets["train"]), seconds + time.perf_counter() - t
        model.eval()
        correct = 0
        with torch.no_grad():
            for x, y in torch.utils.data.DataLoader(sets["valid"], batch_size=64):
                correct += int((model(x.contiguous(memory_format=torch.channels_last)).argmax(1) == y).sum())
        best = max(best, correct / len(sets["valid"]))
    return best, photos / seconds


def app_accuracy(data: Path, args, depth: str, seed: int, amp: bool) -> tuple[float, float]:
    """Best validation accuracy of the app's fine-tuning stage after --epochs epochs, and its training photos/s."""
    result = train(_config(data, args, depth, epochs=args.epochs, lr=args.lr * 10, amp=amp, seed=seed))
    return max(m.val_acc for m in result.history), result.photos_per_second


def accuracy(args, sets: dict[str, Path]) -> None:
    seeds = [int(s) for s in args.seeds.split(",")]
    print(f"\n## accuracy: best validation accuracy after {args.epochs} epochs from the ImageNet weights and a new "
          f"head (head lr {args.lr * 10:g}, backbone {args.lr:g}), seeds {seeds}; training photos/s of the "
          "same runs (sides taking turns; on a shared machine)", flush=True)
    sides = {"app (bf16 step)": lambda d, dp, s: app_accuracy(d, args, dp, s, amp=True),
             "app, float32 step": lambda d, dp, s: app_accuracy(d, args, dp, s, amp=False),
             "expert (float32)": lambda d, dp, s: expert_accuracy(d, args, dp, s),
             f"expert, first {args.epochs // 2} epochs at {args.small} px":
                 lambda d, dp, s: expert_accuracy(d, args, dp, s, small=args.small)}
    print("\n| photos | depth | side | accuracy per seed | mean | photos/s (mean) |\n|---|---|---|---|---|---|")
    for set_name, data in sets.items():
        for depth in DEPTHS:
            runs: dict[str, list[tuple[float, float]]] = {k: [] for k in sides}
            for seed in seeds:  # the sides take turns within each seed
                for k, fn in sides.items():
                    runs[k].append(fn(data, depth, seed))
            for k, v in runs.items():
                accs = [a for a, _ in v]
                print(f"| {set_name} | {depth} | {k} | {' '.join(f'{a:.3f}' for a in accs)} | "
                      f"{statistics.mean(accs):.3f} | {statistics.mean(r for _, r in v):.1f} |", flush=True)


def main() -> None:
    p = base_parser(__doc__)
    p.set_defaults(train_per_class=20, val_per_class=2, batch_size=16)
    p.add_argument("--part", choices=("all", "speed", "accuracy"), default="all")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--lr", type=float, default=1e-4, help="backbone learning rate (the head's is 10x)")
    p.add_argument("--epochs", type=int, default=4, help="epochs of each accuracy run")
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument("--acc-train-per-class", type=int, default=30)
    p.add_argument("--small", type=int, default=160, help="progressive resizing: the early epochs' input size")
    args = p.parse_args()
    work = Path(args.work + "-finetune")
    shutil.rmtree(work, ignore_errors=True)
    args.work = str(work)
    os.environ.setdefault("FLOWERSTUDIO_CACHE_DIR", str(work / "cache"))
    os.environ.setdefault("FLOWERSTUDIO_SPEEDS_FILE", str(work / "speeds.json"))
    print(f"machine: {machine()}; bfloat16 instructions: {cpu_has_bf16()}")
    if args.part in ("all", "speed"):
        speed(subset(args.data, work / "data", args.train_per_class, args.val_per_class), args)
    if args.part in ("all", "accuracy"):
        sets = {"clothing-small": subset(args.data, work / "acc-clothing", args.acc_train_per_class, 0),
                "trashnet": subset(str(SHARED / "trashnet"), work / "acc-trashnet", args.acc_train_per_class, 0)}
        accuracy(args, sets)


if __name__ == "__main__":
    main()
