"""`flowerstudio predict`, whole process (start-up, model load, every photo, the CSV), against a
tutorial-style loop, an expert's plain PyTorch and today's app, on the same photos in one run.

    .venv/bin/python benchmarks/predict_cli.py [--photos 2000] [--baseline 3c1ee20]

Photos: all of TrashNet (1,387) and clothing photos to make up --photos, linked into a scratch
folder (../shared is never written). Model: EfficientNet-Lite0 with its ImageNet weights and a new
16-class head (speed does not depend on the head's values). Each side is a new process, every
side writes the same CSV; the sides take turns, best of --repeats.

- tutorial: the tutorial's predict(): one photo at a time, open, transform, forward, softmax.
- expert: plain PyTorch done well: DataLoader (decoding processes), batches of 32, eval mode,
  channels-last, inference_mode.
- today: the app as it was at --baseline (its package extracted with git archive).
- app: the app now.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tarfile
import io
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import SHARED, best_of, machine  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
CLASSES = 16


def photo_folder(work: Path, n: int) -> Path:
    """TrashNet, then clothing photos up to ``n``, as symlinks in class folders under ``work``."""
    from flowerstudio.core.labelling.predict import list_images

    found = list_images([SHARED / "trashnet"])
    clothing = list_images([SHARED / "clothing-small" / "train"])
    need = max(0, n - len(found))
    found = (found + clothing[:: max(1, len(clothing) // max(need, 1))][:need])[:n]
    folder = work / "photos"
    for path in found:
        link = folder / Path(path).parent.name / Path(path).name
        if not link.exists():
            link.parent.mkdir(parents=True, exist_ok=True)
            link.symlink_to(path)
    return folder


def baseline_tree(work: Path, commit: str) -> Path:
    """The app's package as it was at ``commit``, extracted beside the scratch files."""
    tree = work / f"baseline-{commit}"
    if not (tree / "flowerstudio").is_dir():
        tree.mkdir(parents=True, exist_ok=True)
        blob = subprocess.run(["git", "-C", str(ROOT), "archive", commit, "flowerstudio"], check=True,
                              capture_output=True).stdout
        tarfile.open(fileobj=io.BytesIO(blob)).extractall(tree)
    return tree


def make_model(work: Path) -> Path:
    from flowerstudio.core.model.backbones import get_spec
    from flowerstudio.core.model.model_file import ModelInfo, save_weights
    from flowerstudio.core.model.classifier import build_classifier

    path = work / "model.safetensors"
    if not path.exists():
        spec = get_spec("efficientnet_lite0")
        names = [f"class{i}" for i in range(CLASSES)]
        save_weights(path, build_classifier("efficientnet_lite0", CLASSES).state_dict(),
                   ModelInfo("efficientnet_lite0", names, names, 224, list(spec.mean), list(spec.std)))
    return path


# -- the reference loops, each run as its own process (--side) --------------------------------------
def tutorial(model_path: str, photos: str, csv_path: str) -> None:
    """The tutorial's predict(): one photo at a time, top-k probabilities."""
    import csv

    import torch
    from PIL import Image

    from flowerstudio.core.model.model_file import load_model
    from flowerstudio.core.labelling.predict import list_images
    from flowerstudio.core.model.preprocessing import Preprocessing
    from flowerstudio.core.runtime.transforms import eval_transform

    model, info = load_model(model_path)
    tf = eval_transform(Preprocessing.of(info.input_size, info.mean, info.std))
    model.eval()
    with open(csv_path, "w", newline="") as fh:
        out = csv.writer(fh)
        for path in list_images([photos]):
            x = tf(Image.open(path).convert("RGB")).unsqueeze(0)
            with torch.no_grad():
                probs = torch.softmax(model(x), dim=1)
            top_p, top_i = probs.topk(3)
            out.writerow([path] + [v for i, p in zip(top_i[0], top_p[0]) for v in (info.classes[i], f"{p:.6f}")])


def expert(model_path: str, photos: str, csv_path: str) -> None:
    """Plain PyTorch done well: decoding processes, batches of 32, eval mode, channels-last."""
    import csv

    import torch
    from PIL import Image
    from torch.utils.data import DataLoader

    from flowerstudio.core.model.model_file import load_model
    from flowerstudio.core.labelling.predict import list_images
    from flowerstudio.core.model.preprocessing import Preprocessing
    from flowerstudio.core.runtime.transforms import eval_transform

    model, info = load_model(model_path)
    model = model.eval().to(memory_format=torch.channels_last)
    tf = eval_transform(Preprocessing.of(info.input_size, info.mean, info.std))
    paths = list_images([photos])
    loader = DataLoader([(p,) for p in paths], batch_size=32, num_workers=2,
                        collate_fn=lambda b: torch.stack([tf(Image.open(p).convert("RGB")) for (p,) in b]))
    rows = []
    with torch.inference_mode():
        for x in loader:
            top_p, top_i = torch.softmax(model(x.contiguous(memory_format=torch.channels_last)), dim=1).topk(3)
            rows += [[v for i, p in zip(ti, tp) for v in (info.classes[i], f"{p:.6f}")] for ti, tp in zip(top_i, top_p)]
    with open(csv_path, "w", newline="") as fh:
        csv.writer(fh).writerows([p] + r for p, r in zip(paths, rows))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--photos", type=int, default=2000)
    p.add_argument("--baseline", default="3c1ee20", help="the commit whose app is 'today'")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--work", default="/tmp/flowerstudio-bench-predict")
    p.add_argument("--side", choices=["tutorial", "expert"], help=argparse.SUPPRESS)
    p.add_argument("args", nargs="*", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.side:
        {"tutorial": tutorial, "expert": expert}[args.side](*args.args)
        return
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    photos, model = photo_folder(work, args.photos), make_model(work)
    n = sum(1 for f in photos.rglob("*") if f.is_file())
    base = baseline_tree(work, args.baseline)
    env = {**os.environ, "FLOWERSTUDIO_CACHE_DIR": str(work / "cache")}

    def process(cmd: list[str], tree: Path, csv_name: str):
        def run() -> None:
            out = subprocess.run([sys.executable, *cmd, str(work / csv_name)], env={**env, "PYTHONPATH": str(tree)},
                                 capture_output=True, text=True, cwd=work)
            if out.returncode != 0:
                raise RuntimeError(f"{cmd[:2]} failed (exit status {out.returncode}): {out.stderr[-2000:]}")
        return run

    here = [str(Path(__file__).resolve()), "--side"]
    cli = ["-m", "flowerstudio", "predict", str(model), str(photos), "--top-k", "3", "--csv"]
    sides = {
        "tutorial": process(here + ["tutorial", str(model), str(photos)], ROOT, "tutorial.csv"),
        "expert": process(here + ["expert", str(model), str(photos)], ROOT, "expert.csv"),
        "today": process(cli, base, "today.csv"),
        "app": process(cli, ROOT, "app.csv"),
    }
    print(f"machine: {machine()}")
    print(f"{n} photos ({photos}), EfficientNet-Lite0 @ 224 px, {CLASSES} classes, whole process, "
          f"best of {args.repeats}; today = {args.baseline}", flush=True)
    sides["app"]()  # the app's first run ever exports its ONNX graph once; it is timed below from the cache
    best = best_of(args.repeats, sides)
    rate = {k: n / s for k, s in best.items()}
    print("\n| side | seconds | photos/s | app is |")
    print("|---|---|---|---|")
    for k in sides:
        print(f"| {k} | {best[k]:.1f} | {rate[k]:.1f} | {rate['app'] / rate[k]:.2f}x |")
    print(f"\nload average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
