"""Shared pieces of the benchmarks: a reproducible subset of a real dataset, machine facts, timing."""
from __future__ import annotations

import argparse
import os
import platform
import random
import time
from pathlib import Path

import torch
from torch import nn

from flowerstudio.core.photos.scan import scan_dataset

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


def base_parser(description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--data", default=str(SHARED / "clothing-small"), help="dataset folder (default: shared clothing)")
    p.add_argument("--backbone", default="efficientnet_lite0")
    p.add_argument("--input-size", type=int, default=224)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--train-per-class", type=int, default=40, help="training photos per class (0 = all)")
    p.add_argument("--val-per-class", type=int, default=20, help="validation photos per class (0 = all)")
    p.add_argument("--work", default="/tmp/flowerstudio-bench", help="scratch folder")
    return p


def subset(data: str, out: Path, train_per_class: int, val_per_class: int, seed: int = 0) -> Path:
    """A train/valid copy (symlinks) of ``data`` with at most N photos per class, chosen with a fixed seed."""
    scan = scan_dataset(data, check_images=False)
    rng = random.Random(seed)
    for split, samples, n in (("train", scan.train, train_per_class), ("valid", scan.val, val_per_class)):
        for k, cls in enumerate(scan.classes):
            paths = sorted(s.path for s in samples if s.label == k)
            rng.shuffle(paths)
            folder = out / split / cls
            folder.mkdir(parents=True, exist_ok=True)
            for path in paths[: n or None]:
                link = folder / os.path.basename(path)
                if not link.exists():
                    link.symlink_to(path)
    return out


def link_into(folder: Path, paths) -> None:
    """Links to ``paths`` in ``folder`` (the shared photos are never copied or touched)."""
    folder.mkdir(parents=True, exist_ok=True)
    for path in paths:
        link = folder / os.path.basename(path)
        if not link.exists():
            link.symlink_to(path)


def photos_by_class(folder: Path) -> dict[str, list[str]]:
    from flowerstudio.core.labelling.predict import list_images

    return {d.name: list_images([d]) for d in sorted(folder.iterdir()) if d.is_dir()}


def hold_out_fifth(source: Path, test: Path, rest: Path, rng: random.Random) -> dict[str, list[str]]:
    """A set without a ready-made split (TrashNet): a fifth of each class folder of ``source``, drawn
    with ``rng``, linked under ``test`` for testing only; the rest linked under ``rest`` and returned."""
    kept = {}
    for cls, paths in photos_by_class(source).items():
        paths = sorted(paths)
        rng.shuffle(paths)
        k = len(paths) // 5
        link_into(test / cls, paths[:k])
        link_into(rest / cls, paths[k:])
        kept[cls] = paths[k:]
    return kept


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (f"{cpu}, {os.cpu_count()} cores, torch {torch.__version__}, {torch.get_num_threads()} threads, "
            f"load average {load:.1f} at start")


class Timer:
    def __enter__(self):
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self.start


def random_weights_model(name: str, classes: int = 10, size: int = 224) -> nn.Module:
    """A classifier with random weights (no download) and BatchNorm statistics measured on random
    input, in eval mode. Speed does not depend on the values, but uncalibrated random torchvision
    networks shrink activations to ~1e-10, where denormal floats would make any CPU engine crawl."""
    from flowerstudio.core.model.classifier import build_classifier

    torch.manual_seed(0)
    model = build_classifier(name, classes, pretrained=False)
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.momentum = None  # running statistics = the calibration batch's
    with torch.no_grad():
        model.train()(torch.randn(4, 3, size, size))
    return model.eval()


def best_of(repeats: int, sides: dict) -> dict:
    """Seconds of each side's best run: the sides take turns, ``repeats`` times, so a change in the
    machine's load hits all of them alike; the best run is what the code can do."""
    best = {k: float("inf") for k in sides}
    for _ in range(repeats):
        for k, fn in sides.items():
            with Timer() as t:
                fn()
            best[k] = min(best[k], t.seconds)
    return best
