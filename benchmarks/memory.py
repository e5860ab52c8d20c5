"""Peak memory (RSS) of training runs, measured in a child process.

The frozen stage runs on N photos (default 8,000: the shared clothing photos linked
several times under new names, so each counts as a photo of its own). The fine-tuning
stage's memory does not grow with the number of photos (it streams batches), so it
is measured on a smaller set.

    .venv/bin/python benchmarks/memory.py [--photos 8000]
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import SHARED, Timer, machine  # noqa: E402

from flowerstudio.core.photos.scan import scan_dataset  # noqa: E402


def replicate(src: str, out: Path, photos: int) -> Path:
    scan = scan_dataset(src, check_images=False)
    for split, samples in (("train", scan.train), ("valid", scan.val)):
        want = photos * (9 if split == "train" else 1) // 10
        for i in range(want):
            s = samples[i % len(samples)]
            folder = out / split / scan.classes[s.label]
            folder.mkdir(parents=True, exist_ok=True)
            link = folder / f"{i:05d}-{os.path.basename(s.path)}"
            link.symlink_to(s.path)
    return out


def peak_rss_gb(cmd: list[str], env: dict) -> tuple[float, float]:
    """(peak RSS in GB, seconds) of one child process; ru_maxrss is in KiB on Linux."""
    with Timer() as t:
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL)
        _, status, usage = os.wait4(proc.pid, 0)
    if status != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({status})")
    return usage.ru_maxrss / 2**20, t.seconds


def main() -> None:
    import argparse

    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--photos", type=int, default=8000)
    p.add_argument("--finetune-photos", type=int, default=300)
    p.add_argument("--work", default="/tmp/flowerstudio-bench-memory")
    args = p.parse_args()
    work = Path(args.work)
    shutil.rmtree(work, ignore_errors=True)
    big = replicate(str(SHARED / "clothing-small"), work / "big", args.photos)
    small = replicate(str(SHARED / "clothing-small"), work / "small", args.finetune_photos)
    env = {**os.environ, "FLOWERSTUDIO_CACHE_DIR": str(work / "cache")}
    flower = [sys.executable, "-m", "flowerstudio", "train"]
    print(f"machine: {machine()}")
    frozen, s1 = peak_rss_gb(flower + [str(big), "--output", str(work / "runs")], env)
    print(f"frozen stage, {args.photos} photos, 10 epochs (feature cache, cold): peak RSS {frozen:.2f} GB, {s1:.0f}s",
          flush=True)
    tune, s2 = peak_rss_gb(flower + [str(small), "--unfreeze", "--epochs", "1", "--batch-size", "32",
                                     "--output", str(work / "runs")], env)
    print(f"fine-tuning all layers, {args.finetune_photos} photos, 1 epoch, batch 32: peak RSS {tune:.2f} GB, "
          f"{s2:.0f}s")


if __name__ == "__main__":
    main()
