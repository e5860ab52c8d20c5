"""Fine-tuning speed: photos/s of one unfrozen epoch in the app's trainer vs the tutorial's loop
(model.train(): BatchNorm statistics update) and an expert's plain PyTorch (channels-last, BatchNorm
in inference mode as the app's default), on the same model, batch size and photos, plus where the
plain loops' time goes. The sides take turns, best of --repeats.

    .venv/bin/python benchmarks/finetune.py [--train-per-class 20]
"""
from __future__ import annotations

import os
import shutil
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from common import Timer, base_parser, best_of, machine, subset  # noqa: E402

from flowerstudio.core.foundation.config import TrainConfig  # noqa: E402
from flowerstudio.core.foundation.events import PhaseStarted  # noqa: E402
from flowerstudio.core.photos.imageio import load_image  # noqa: E402
from flowerstudio.core.model.classifier import build_classifier, get_spec  # noqa: E402
from flowerstudio.core.training.trainer import train  # noqa: E402
from flowerstudio.core.model.preprocessing import Preprocessing, resize_for
from flowerstudio.core.runtime.transforms import train_transform  # noqa: E402


def plain_loop(data: Path, args, expert: bool = False) -> tuple[float, dict]:
    """ImageFolder + DataLoader + model.train(); Adam; forward/backward/step. Returns photos/s and a time split.

    The tutorial's loop, or with ``expert`` plain PyTorch done well: channels-last, and BatchNorm kept in
    inference mode while the weights train (the app's default, freeze_bn_stats), so both sides run the
    same BatchNorm mode."""
    from torchvision import datasets

    torch.manual_seed(0)
    spec = get_spec(args.backbone)
    tf = train_transform(Preprocessing.of(args.input_size, spec.mean, spec.std), TrainConfig().augment)
    ds = datasets.ImageFolder(str(data / "train"), tf)
    loader = torch.utils.data.DataLoader(ds, batch_size=args.batch_size, shuffle=True)
    model = build_classifier(args.backbone, len(ds.classes)).train()
    if expert:
        model = model.to(memory_format=torch.channels_last)
        for m in model.modules():
            if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
                m.eval()
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)
    split = {"data": 0.0, "forward": 0.0, "backward+step": 0.0}
    with Timer() as total:
        t = time.perf_counter()
        for x, y in loader:
            t1 = time.perf_counter()
            if expert:
                x = x.contiguous(memory_format=torch.channels_last)
            loss = torch.nn.functional.cross_entropy(model(x), y)
            t2 = time.perf_counter()
            opt.zero_grad()
            loss.backward()
            opt.step()
            t3 = time.perf_counter()
            split["data"] += t1 - t
            split["forward"] += t2 - t1
            split["backward+step"] += t3 - t2
            t = time.perf_counter()
    return len(ds) / total.seconds, {k: v / total.seconds for k, v in split.items()}


def app_epoch(data: Path, args) -> float:
    marks = {}

    def callback(event):
        if isinstance(event, PhaseStarted) and event.phase in ("train", "validate"):
            marks[event.phase] = time.perf_counter()

    cfg = TrainConfig(data_dir=str(data), backbone=args.backbone, input_size=args.input_size, epochs=1,
                      batch_size=args.batch_size, train_mode="all", lr=1e-4, output_dir=str(Path(args.work) / "runs"))
    result = train(cfg, callback)
    n = sum(1 for _ in (data / "train").rglob("*.*"))
    return n / (marks["validate"] - marks["train"]) if result.status == "completed" else float("nan")


def decode_ms(data: Path, args) -> tuple[float, float]:
    files = sorted((data / "train").rglob("*.*"))[:50]
    spec = get_spec(args.backbone)
    tf = train_transform(Preprocessing.of(args.input_size, spec.mean, spec.std), TrainConfig().augment)
    with Timer() as d:
        imgs = [load_image(f) for f in files]
    with Timer() as a:
        for img in imgs:
            tf(img)
    return 1000 * d.seconds / len(files), 1000 * a.seconds / len(files)


def main() -> None:
    p = base_parser(__doc__)
    p.set_defaults(train_per_class=20, val_per_class=2, batch_size=16)
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args()
    work = Path(args.work + "-finetune")
    shutil.rmtree(work, ignore_errors=True)
    args.work = str(work)
    data = subset(args.data, work / "data", args.train_per_class, args.val_per_class)
    os.environ.setdefault("FLOWERSTUDIO_CACHE_DIR", str(work / "cache"))
    print(f"machine: {machine()}")
    print(f"{args.backbone} @ {args.input_size}px, batch {args.batch_size}, "
          f"{sum(1 for _ in (data / 'train').rglob('*.*'))} training photos", flush=True)
    dec, aug = decode_ms(data, args)
    rates: dict[str, list[float]] = {}
    splits = {}

    def side(name, fn):
        def run():
            rate, split = fn()
            rates.setdefault(name, []).append(rate)
            splits[name] = split
        return run

    best_of(args.repeats, {
        "tutorial": side("tutorial", lambda: plain_loop(data, args)),
        "expert": side("expert", lambda: plain_loop(data, args, expert=True)),
        "app": side("app", lambda: (app_epoch(data, args), {})),
    })
    best = {k: max(v) for k, v in rates.items()}
    print(f"decode {dec:.1f} ms/photo, augment {aug:.1f} ms/photo")
    for k in ("tutorial", "expert"):
        print(f"{k} loop time split: " + ", ".join(f"{n} {100 * v:.0f} %" for n, v in splits[k].items()))
    print("\n| side | photos/s (best of %d) | app is |" % args.repeats)
    print("|---|---|---|")
    for k, r in best.items():
        print(f"| {k} | {r:.2f} | {best['app'] / r:.2f}x |")


if __name__ == "__main__":
    main()
