"""Refuse a build venv that would make a wrong bundle; run by the build scripts before PyInstaller.

    python packaging/check_build_venv.py [--test-only-torchvision]

CUDA torch (or nvidia-* packages) would make a bundle of several GB that trains no faster without an
NVIDIA driver; a release needs torchvision's compiled ops to load (PyPI's Linux torchvision is linked
against CUDA torch and does not load them beside CPU torch).
"""
import sys
from importlib import metadata

import torch


def main(argv: list[str]) -> int:
    test_only = "--test-only-torchvision" in argv
    nvidia = sorted(d.metadata["Name"] for d in metadata.distributions()
                    if (d.metadata["Name"] or "").lower().startswith("nvidia"))
    if torch.version.cuda is not None or nvidia:
        print(f"torch {torch.__version__} is a CUDA build ({', '.join(nvidia) or 'CUDA'}): the bundle would be several "
              "GB. Install PyTorch's CPU build (pip install torch torchvision --index-url "
              "https://download.pytorch.org/whl/cpu).", file=sys.stderr)
        return 1
    try:
        import torchvision.extension

        tv_version, problem = torchvision.__version__, None
        if not torchvision.extension._has_ops() and not test_only:
            problem = "its compiled ops do not load with this torch"
    except (ImportError, RuntimeError) as exc:  # "operator torchvision::nms does not exist"
        tv_version, problem = "?", f"it does not import ({exc})"
    if problem:
        print(f"torchvision {tv_version}: {problem}. PyPI's Linux torchvision is linked against CUDA torch: install "
              "torchvision from https://download.pytorch.org/whl/cpu, or make a local test build with "
              "--test-only-torchvision.", file=sys.stderr)
        return 1
    note = " WITHOUT ITS COMPILED OPS (test only)" if test_only else ""
    print(f"build venv: torch {torch.__version__}, torchvision {tv_version}{note}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
