"""LOCAL TEST BUILDS ONLY: make PyPI's CUDA-linked Linux torchvision importable beside CPU torch.

PyPI's Linux torchvision wheel is built against CUDA torch: its compiled ops (``_C.so``, ``image.so``)
link ``libtorch_cuda.so``, which CPU torch does not have, and ``import torchvision`` then fails with
``operator torchvision::nms does not exist``. Flower Studio uses only ``torchvision.transforms.v2`` and
``torchvision.models``, which are pure Python, so for a build made where PyTorch's CPU index cannot be
reached this script removes the compiled ops and the CUDA libraries beside them, and makes the one
unconditional registration of an op conditional. torchvision's detection ops (nms, roi_align, ...) and
its image decoders then do not work.

A bundle made from such a torchvision must never be shipped: the build script names it
``...-TEST-ONLY...``. The real CPU torchvision comes from https://download.pytorch.org/whl/cpu.

    python packaging/test_only_torchvision.py            # patches the torchvision this Python imports
"""
from __future__ import annotations

import importlib.util
import shutil
import sys
from pathlib import Path

MARKER = "FLOWERSTUDIO_TEST_ONLY_NO_COMPILED_OPS"
_UNGUARDED = '@torch.library.register_fake("torchvision::{op}")'
_GUARDED = ('@(torch.library.register_fake("torchvision::{op}") if torchvision.extension._has_ops() '
            'else (lambda fn: fn))')


def patch(package_dir: Path) -> list[str]:
    """Patch the torchvision package in ``package_dir``; returns what was changed."""
    done = []
    for pattern in ("_C*.so", "image*.so", "video_reader*.so"):
        for lib in package_dir.glob(pattern):
            lib.unlink()
            done.append(f"removed {lib.name}")
    libs = package_dir.parent / "torchvision.libs"  # auditwheel's copies: libcudart, libnvjpeg, ...
    if libs.is_dir():
        shutil.rmtree(libs)
        done.append("removed torchvision.libs/")
    meta = package_dir / "_meta_registrations.py"
    text = meta.read_text(encoding="utf-8")
    for op in ("nms", "qnms"):
        text, n = text.replace(_UNGUARDED.format(op=op), _GUARDED.format(op=op)), text.count(_UNGUARDED.format(op=op))
        if n:
            done.append(f"guarded the fake registration of torchvision::{op}")
    meta.write_text(text, encoding="utf-8")
    (package_dir / MARKER).write_text("torchvision without its compiled ops: for local test builds only\n")
    return done


def main() -> int:
    spec = importlib.util.find_spec("torchvision")  # finds the package without importing it
    if spec is None or not spec.submodule_search_locations:
        print("torchvision is not installed", file=sys.stderr)
        return 1
    package_dir = Path(list(spec.submodule_search_locations)[0])
    for line in patch(package_dir):
        print(f"test-only torchvision: {line}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
