"""Photos/s of one fine-tuning epoch: one process vs torchrun with N processes (Gloo on CPU,
NCCL on CUDA), same data, model and per-process batch size.

    .venv/bin/python benchmarks/distributed.py [--nproc 2] [--train-per-class 10]
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import base_parser, machine, subset  # noqa: E402


def run(cmd: list[str], out: Path, env: dict) -> float:
    subprocess.run(cmd, check=True, env=env, stdout=subprocess.DEVNULL)
    (run_dir,) = out.iterdir()
    hist = json.loads((run_dir / "history.json").read_text())
    return hist[-1]["seconds"]


def main() -> None:
    p = base_parser(__doc__)
    p.set_defaults(train_per_class=10, val_per_class=2, batch_size=16)
    p.add_argument("--nproc", type=int, default=2)
    p.add_argument("--device", default="cpu")
    args = p.parse_args()
    work = Path(args.work + "-ddp")
    shutil.rmtree(work, ignore_errors=True)
    data = subset(args.data, work / "data", args.train_per_class, args.val_per_class)
    n = sum(1 for _ in data.rglob("*.*"))
    env = {**os.environ, "FLOWERSTUDIO_CACHE_DIR": str(work / "cache")}
    common = ["train", str(data), "--unfreeze", "--epochs", "1", "--backbone", args.backbone, "--input-size",
              str(args.input_size), "--batch-size", str(args.batch_size), "--device", args.device]
    print(f"machine: {machine()}")
    print(f"{n} photos, {args.backbone} @ {args.input_size}px, batch {args.batch_size} per process, all layers")
    one = run([sys.executable, "-m", "flowerstudio", *common, "--output", str(work / "one")], work / "one", env)
    many = run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(args.nproc),
                "-m", "flowerstudio", *common, "--output", str(work / "many")], work / "many", env)
    print(f"1 process: {n / one:.2f} photos/s; {args.nproc} processes: {n / many:.2f} photos/s; "
          f"ratio {one / many:.2f}x")


if __name__ == "__main__":
    main()
