"""Grad-CAM of one photo, as the Predict page's "Show what the model looked at" makes it: the app (one
intra-op thread, core/runtime/threads.py) against the same code with torch's default threads (the plain
way), photo by photo taking turns, warm (the model loaded once, as the page keeps it).

A model to explain comes from a short frozen run on a subset of --data (one epoch: the heat map's cost does
not depend on how well the model was trained). Prints the median and worst seconds a photo per side and
their ratio, and how far apart the two sides' overlays are. --load N runs N busy processes beside it (two
threads of matrix products each), as a training run or another program on the same cores would.
"""
from __future__ import annotations

import contextlib
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from common import base_parser, machine, subset  # noqa: E402

from flowerstudio.core.foundation.config import TrainConfig  # noqa: E402
from flowerstudio.core.labelling import gradcam  # noqa: E402
from flowerstudio.core.training.trainer import train  # noqa: E402


BUSY = "import torch\ntorch.set_num_threads(2)\na = torch.randn(512, 512)\nwhile True:\n    a @ a"


def _turns(model: str, photos: list[str], seconds: dict, overlays: dict, sides: dict) -> None:
    """Each photo explained by each side in turn (so a change in the machine's load hits both alike)."""
    app_threads = gradcam.one_thread_on_cpu
    try:
        for path in photos[1:]:
            for side, threads in sides.items():
                gradcam.one_thread_on_cpu = threads
                t = time.perf_counter()
                overlays[side] = np.asarray(gradcam.heatmap_image(model, path), dtype=np.int16)
                seconds[side].append(time.perf_counter() - t)
    finally:
        gradcam.one_thread_on_cpu = app_threads


def main() -> None:
    p = base_parser(__doc__)
    p.set_defaults(train_per_class=10, val_per_class=2)
    p.add_argument("--photos", type=int, default=20, help="photos explained per side")
    p.add_argument("--load", type=int, default=0, help="busy processes beside the benchmark")
    args = p.parse_args()
    work = Path(args.work + "-gradcam")
    data = subset(args.data, work / "data", args.train_per_class, args.val_per_class)
    result = train(TrainConfig(data_dir=str(data), output_dir=str(work / "runs"), epochs=1,
                               input_size=args.input_size, backbone=args.backbone))
    photos = sorted(str(p) for p in (data / "train").rglob("*") if p.is_file())[:args.photos + 1]
    print(f"machine: {machine()}\n\n## gradcam: {args.backbone} @ {args.input_size}px, {len(photos) - 1} photos, "
          "warm, sides taking turns\n")
    sides = {"plain (torch's default threads)": lambda _device: contextlib.nullcontext(),
             "app": gradcam.one_thread_on_cpu}
    seconds: dict[str, list[float]] = {k: [] for k in sides}
    overlays = {}
    gradcam.heatmap_image(result.best_path, photos[0])  # loads the model once, as the page does
    busy = [subprocess.Popen([sys.executable, "-c", BUSY]) for _ in range(args.load)]
    print(f"busy processes beside it: {args.load}\n")
    try:
        _turns(result.best_path, photos, seconds, overlays, sides)
    finally:
        for proc in busy:
            proc.kill()
    print("| side | median s a photo | worst s | app is |\n|---|---|---|---|")
    app = statistics.median(seconds["app"])
    for side, ts in seconds.items():
        print(f"| {side} | {statistics.median(ts):.3f} | {max(ts):.3f} | {statistics.median(ts) / app:.2f}x |")
    a, b = overlays.values()  # threads sum in another order: the heat may differ in its last bits
    print(f"\nlargest pixel difference between the sides' overlays (last photo, 0-255): {int(np.abs(a - b).max())}")


if __name__ == "__main__":
    main()
