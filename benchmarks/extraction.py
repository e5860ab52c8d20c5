"""Feature extraction (the frozen stage's, the data doctor's, every retrain's): the app's
FeatureCache against today's app and an expert's plain PyTorch, on the same photos in one run,
plus where the time goes (decoding vs the network) for each engine.

    .venv/bin/python benchmarks/extraction.py [--photos 1000] [--baseline 3c1ee20]

EfficientNet-Lite0 with its ImageNet weights at 224 px, batch 32, a cold feature cache every time.
Each side runs in its own process and times the extraction call alone; the sides take turns,
best of --repeats.

- today: FeatureCache.features of the app at --baseline (PyTorch, decoding in the calling thread).
- expert: plain PyTorch done well: backbone in eval mode, channels-last, inference_mode,
  a DataLoader with decoding processes, batches of 32, features extracted once.
- app (pytorch): the app now with its engine forced to PyTorch: what the decoding threads alone give.
- app: the app now (ONNX Runtime on CPU; its graph exported before the timed runs, as after any first run).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import best_of, machine  # noqa: E402
from predict_cli import ROOT, baseline_tree, photo_folder  # noqa: E402

SIZE, BATCH = 224, 32
RESIZE = 256  # the short side before the centre crop, for SIZE 224 (the app default ratio)


def _backbone():
    from flowerstudio.core.model.classifier import build_classifier

    return build_classifier("efficientnet_lite0", 2).backbone  # ImageNet weights, offline


def _transform():
    from flowerstudio.core.model.backbones import get_spec
    from flowerstudio.core.model.preprocessing import Preprocessing
    from flowerstudio.core.runtime.transforms import eval_transform

    spec = get_spec("efficientnet_lite0")
    return eval_transform(Preprocessing.of(SIZE, spec.mean, spec.std))


def side_app(paths: list[str], engine: str) -> float:
    """Seconds of one cold FeatureCache.features call (this process's flowerstudio: app or today)."""
    import inspect

    import torch

    from flowerstudio.core.runtime.featurecache import FeatureCache

    backbone = _backbone()
    cache = FeatureCache(Path(tempfile.mkdtemp(prefix="fs-extract-")), {"bench": time.time()})
    extra = {"engine": engine} if "engine" in inspect.signature(cache.features).parameters else {}
    start = time.perf_counter()
    _, ok = cache.features("val", paths, [0] * len(paths), _transform(), backbone, torch.device("cpu"), BATCH,
                           min_side=RESIZE, **extra)
    seconds = time.perf_counter() - start
    assert ok.all()
    shutil.rmtree(cache.folder.parent)
    return seconds


def side_expert(paths: list[str]) -> float:
    import torch
    from PIL import Image
    from torch.utils.data import DataLoader

    backbone = _backbone().eval().to(memory_format=torch.channels_last)
    tf = _transform()
    start = time.perf_counter()
    loader = DataLoader(paths, batch_size=BATCH, num_workers=2,
                        collate_fn=lambda b: torch.stack([tf(Image.open(p).convert("RGB")) for p in b]))
    feats = []
    with torch.inference_mode():
        for x in loader:
            feats.append(backbone(x.contiguous(memory_format=torch.channels_last)).half())
    torch.cat(feats)
    return time.perf_counter() - start


def split(paths: list[str]) -> None:
    """Does decoding keep up? Photos/s of decoding alone (the app's decoding threads) against photos/s
    of the network alone (each engine, batch 32), each measured with the machine to itself."""
    from concurrent.futures import ThreadPoolExecutor

    import torch

    from flowerstudio.core.photos.imageio import load_image
    from flowerstudio.core.runtime.inference import InferenceNet
    from flowerstudio.core.runtime.loader import decoding_plan

    tf, side = _transform(), RESIZE
    threads, _ = decoding_plan(torch.device("cpu"))
    sample = paths[:: max(1, len(paths) // 320)]
    backbone = _backbone()
    nets = {e: InferenceNet(backbone, torch.device("cpu"), e) for e in ("pytorch", "onnxruntime")}
    x = torch.stack([tf(load_image(p, min_side=side)) for p in sample[:BATCH]])
    for net in nets.values():
        net(x)  # warm-up (and the ONNX export, once)

    def decode() -> None:
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(lambda p: tf(load_image(p, min_side=side)), sample))

    best = best_of(3, {"decode": decode, **{e: (lambda net=net: [net(x) for _ in range(2)]) for e, net in nets.items()}})
    rate = {"decode": len(sample) / best["decode"], **{e: 2 * BATCH / best[e] for e in nets}}
    print(f"\ndoes decoding keep up? decoding alone ({threads} threads, resize + crop + normalise included): "
          f"{rate['decode']:.0f} photos/s; the network alone, batch {BATCH}: {rate['pytorch']:.0f} photos/s with "
          f"PyTorch, {rate['onnxruntime']:.0f} with ONNX Runtime. On the same cores, decoding takes "
          f"{100 * rate['onnxruntime'] / (rate['decode'] + rate['onnxruntime']):.0f} % of the time per photo with "
          f"ONNX Runtime ({100 * rate['pytorch'] / (rate['decode'] + rate['pytorch']):.0f} % with PyTorch)")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--photos", type=int, default=1000)
    p.add_argument("--baseline", default="3c1ee20", help="the commit whose app is 'today'")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--work", default="/tmp/flowerstudio-bench-predict")
    p.add_argument("--side", help=argparse.SUPPRESS)
    args = p.parse_args()
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    listing = work / f"extract-{args.photos}.json"
    if args.side:
        paths = json.loads(listing.read_text())
        seconds = side_expert(paths) if args.side == "expert" else side_app(paths, args.side)
        print(f"SECONDS {seconds}")
        return
    from flowerstudio.core.labelling.predict import list_images

    paths = list_images([photo_folder(work, args.photos)])[: args.photos]
    listing.write_text(json.dumps(paths))
    base = baseline_tree(work, args.baseline)
    env = {**os.environ, "FLOWERSTUDIO_CACHE_DIR": str(work / "cache")}
    timed: dict[str, list[float]] = {}

    def process(side: str, tree: Path, name: str):
        def run() -> None:
            out = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--side", side, "--photos",
                                  str(args.photos), "--work", str(work)], env={**env, "PYTHONPATH": str(tree)},
                                 capture_output=True, text=True)
            if out.returncode != 0:
                raise RuntimeError(f"{name} failed: {out.stderr[-2000:]}")
            timed.setdefault(name, []).append(float(out.stdout.split("SECONDS")[-1]))
        return run

    sides = {"today": process("pytorch", base, "today"), "expert": process("expert", ROOT, "expert"),
             "app (pytorch)": process("pytorch", ROOT, "app (pytorch)"), "app": process("auto", ROOT, "app")}
    print(f"machine: {machine()}")
    print(f"{len(paths)} photos, EfficientNet-Lite0 @ {SIZE} px, batch {BATCH}, cold feature cache, "
          f"best of {args.repeats}; today = {args.baseline}", flush=True)
    sides["app"]()  # exports the ONNX graph once, as a user's first run does
    timed.clear()
    best_of(args.repeats, sides)
    rate = {k: len(paths) / min(v) for k, v in timed.items()}
    print("\n| side | seconds | photos/s | app is |")
    print("|---|---|---|---|")
    for k in sides:
        print(f"| {k} | {min(timed[k]):.1f} | {rate[k]:.1f} | {rate['app'] / rate[k]:.2f}x |")
    split(paths)
    print(f"load average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
