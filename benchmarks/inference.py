"""Prediction speed: a naive loop (one photo at a time: open, transform, forward) vs the app's
batched Predictor, and the app's throughput as a fraction of this machine's matmul FLOP rate.

    .venv/bin/python benchmarks/inference.py [--backbone resnet18] [--photos 200]
"""
from __future__ import annotations

import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from common import SHARED, Timer, machine, random_weights_model  # noqa: E402

from flowerstudio.core.model.model_file import ModelInfo, save_weights  # noqa: E402
from flowerstudio.core.model.classifier import get_spec  # noqa: E402
from flowerstudio.core.labelling.predict import Predictor, list_images  # noqa: E402


def matmul_flops(n: int = 2048, repeat: int = 10) -> float:
    """FLOP/s of a large fp32 matmul: the practical peak of this CPU for dense work."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    with Timer() as t:
        for _ in range(repeat):
            a @ b
    return 2 * n**3 * repeat / t.seconds


def model_flops(model: torch.nn.Module, size: int) -> float:
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter, torch.inference_mode():
        model(torch.zeros(1, 3, size, size))
    return float(counter.get_total_flops())


def main() -> None:
    import argparse

    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--data", default=str(SHARED / "trashnet"))
    p.add_argument("--photos", type=int, default=200)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--input-size", type=int, default=224)
    p.add_argument("--backbones", default="efficientnet_lite0,resnet18")
    p.add_argument("--work", default="/tmp/flowerstudio-bench-inference")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--workers", type=int, default=2, help="decoding threads of the app")
    args = p.parse_args()
    paths = list_images([args.data])[:: max(1, len(list_images([args.data])) // args.photos)][: args.photos]
    peak = max(matmul_flops() for _ in range(3))
    print(f"machine: {machine()}")
    print(f"{len(paths)} photos from {args.data}; matmul peak {peak / 1e9:.1f} GFLOP/s\n")
    print("| backbone | naive photos/s | app photos/s | ratio | GFLOP/photo | app GFLOP/s | % of matmul peak |")
    print("|---|---|---|---|---|---|---|")
    for name in args.backbones.split(","):
        # Random weights run exactly as fast as pretrained ones, and need no download.
        spec = get_spec(name)
        model = random_weights_model(name, 10, args.input_size)
        path = Path(args.work) / f"{name}.safetensors"
        save_weights(path, model.state_dict(), ModelInfo(name, [str(i) for i in range(10)], [str(i) for i in range(10)],
                                          args.input_size, list(spec.mean), list(spec.std)))
        predictor = Predictor(path, "cpu")
        predictor.predict(paths[:8], batch_size=8)  # warm-up

        from PIL import Image

        naive_model = random_weights_model(name, 10, args.input_size)
        tf = predictor.transform

        def naive() -> None:
            with torch.inference_mode():
                for path_ in paths:
                    img = Image.open(path_).convert("RGB")
                    naive_model(tf(img).unsqueeze(0)).softmax(1)

        # Interleaved repeats, best of each: the machine's load drifts, and a throughput
        # benchmark reports what the code can do, not the worst moment of the neighbours.
        app_s, naive_s = [], []
        for _ in range(args.repeats):
            with Timer() as t:
                naive()
            naive_s.append(t.seconds)
            with Timer() as t:
                predictor.predict(paths, batch_size=args.batch_size, workers=args.workers)
            app_s.append(t.seconds)
        app, naive_t = min(app_s), min(naive_s)
        flops = model_flops(naive_model, args.input_size)
        app_rate, naive_rate = len(paths) / app, len(paths) / naive_t
        print(f"| {name} | {naive_rate:.1f} | {app_rate:.1f} | {app_rate / naive_rate:.2f}x | {flops / 1e9:.2f} | "
              f"{app_rate * flops / 1e9:.1f} | {100 * app_rate * flops / peak:.0f} % |", flush=True)


if __name__ == "__main__":
    main()
