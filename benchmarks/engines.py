"""Inference engines per registry backbone: the app's PyTorch forward (BatchNorm folded, channels-last),
ONNX Runtime, and torch.compile, on the same network and batch: photos/s of the forward pass alone.

    .venv/bin/python benchmarks/engines.py [--backbones efficientnet_lite0,resnet18] [--batch-sizes 1,32]

Random weights with calibrated BatchNorm (speed does not depend on the values; no download). The
engines take turns, best of --repeats. Also printed: the one-off cost of each (ONNX export, compile)
and the largest difference from PyTorch's outputs relative to their scale.
"""
from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from common import Timer, best_of, machine, random_weights_model  # noqa: E402

from flowerstudio.core.model.backbones import BACKBONES  # noqa: E402
from flowerstudio.core.runtime.inference import InferenceNet  # noqa: E402
from flowerstudio.core.foundation.vocab import InferenceEngine  # noqa: E402


def main() -> None:
    import argparse

    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--backbones", default=",".join(BACKBONES))
    p.add_argument("--batch-sizes", default="1,32")
    p.add_argument("--input-size", type=int, default=224)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--no-compile", action="store_true", help="leave torch.compile out (it compiles for minutes)")
    args = p.parse_args()
    os.environ.setdefault("FLOWERSTUDIO_CACHE_DIR", tempfile.mkdtemp(prefix="flowerstudio-engines-"))
    cpu = torch.device("cpu")
    print(f"machine: {machine()}")
    print(f"{args.input_size} px, forward pass only, best of {args.repeats}\n")
    print("| backbone | batch | PyTorch photos/s | ONNX Runtime photos/s | torch.compile photos/s | ORT / PyTorch "
          "| compile / PyTorch | ORT export s | compile s | largest difference |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for name in args.backbones.split(","):
        model = random_weights_model(name, size=args.input_size)
        eager = InferenceNet(model, cpu, InferenceEngine.PYTORCH)
        ort = InferenceNet(model, cpu, InferenceEngine.ONNXRUNTIME)
        torch._dynamo.reset()  # each backbone compiles afresh: past 8 recompilations dynamo runs eager
        compiled = None if args.no_compile else torch.compile(eager.net)
        for bs in (int(b) for b in args.batch_sizes.split(",")):
            x = torch.randn(bs, 3, args.input_size, args.input_size)
            xc = x.contiguous(memory_format=torch.channels_last)
            # Enough calls per timing that a batch of one is not lost in timer noise.
            calls = max(1, 32 // bs)
            ref = eager(x)
            with Timer() as export:
                out = ort(x)  # the first call exports the graph (or reads it from the cache)
            assert ort.engine == InferenceEngine.ONNXRUNTIME, "ONNX Runtime fell back to PyTorch"
            scale = max(1.0, ref.abs().max().item())
            diff = (out - ref).abs().max().item() / scale
            sides = {"eager": lambda: [eager(x) for _ in range(calls)], "ort": lambda: [ort(x) for _ in range(calls)]}
            compile_s = float("nan")
            if compiled is not None:
                def run_compiled():
                    with torch.inference_mode():
                        return compiled(xc)

                with Timer() as t:
                    out = run_compiled()
                compile_s = t.seconds
                diff = max(diff, (out - ref).abs().max().item() / scale)
                sides["compile"] = lambda: [run_compiled() for _ in range(calls)]
            best = best_of(args.repeats, sides)
            rate = {k: bs * calls / s for k, s in best.items()}
            c = rate.get("compile", float("nan"))
            print(f"| {name} | {bs} | {rate['eager']:.1f} | {rate['ort']:.1f} | {c:.1f} | "
                  f"**{rate['ort'] / rate['eager']:.2f}x** | {c / rate['eager']:.2f}x | {export.seconds:.1f} | "
                  f"{compile_s:.0f} | {diff:.1e} |", flush=True)


if __name__ == "__main__":
    main()
