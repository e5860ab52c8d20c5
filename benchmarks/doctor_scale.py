"""The data doctor at scale: a whole warm-cache ``diagnose()`` of 10,000 photos, and the duplicate search
over 100,000 feature rows (issue #13's time targets: ≤ 30 s and ≤ 2 min).

    .venv/bin/python benchmarks/doctor_scale.py [--work /tmp/doctor10k]

The 10,000 photos are drawn by the tests' image factory (100 classes × 100, 160 × 120 px JPEGs): real
files through the real scan, feature cache and analysis. Drawn photos resemble each other far more than
real ones do, so the finding counts mean nothing here; only the time does. The first diagnose fills the
feature cache (timed too); the warm runs are what a user waits for after changing a few photos.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent / "tests")]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--work", default="/tmp/doctor10k", help="scratch folder (photos and their feature cache)")
    p.add_argument("--rows", type=int, default=100_000)
    args = p.parse_args()
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    os.environ["FLOWERSTUDIO_CACHE_DIR"] = str(work / "cache")  # never the user's cache
    import torch
    from common import machine
    from doctor import time_duplicate_search
    from imagefactory import make_dataset

    from flowerstudio.core.doctor.diagnose import diagnose

    torch.set_num_threads(min(2, os.cpu_count() or 1))
    print(machine(), flush=True)
    data = work / "data"
    if not data.exists():
        make_dataset(data, classes=[f"c{i:03d}" for i in range(100)], per_class=100, layout="flat", size=(160, 120))
    start = time.perf_counter()
    report = diagnose(data)
    print(f"first diagnose (features extracted): {time.perf_counter() - start:.1f} s, {report.photos} photos", flush=True)
    for i in range(2):
        wall, cpu = time.perf_counter(), time.process_time()
        report = diagnose(data)
        print(f"warm diagnose {i + 1}: {time.perf_counter() - wall:.1f} s wall, {time.process_time() - cpu:.1f} CPU s, "
              f"{report.photos} photos; load {os.getloadavg()[0]:.1f}", flush=True)
    for _ in range(2):
        wall, cpu = time_duplicate_search(args.rows)
        print(f"duplicate search over {args.rows:,} rows: {wall:.1f} s wall, {cpu:.1f} CPU s; "
              f"load {os.getloadavg()[0]:.1f}", flush=True)


if __name__ == "__main__":
    main()
