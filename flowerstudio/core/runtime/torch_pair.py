"""Whether the installed PyTorch and torchvision belong together. A torchvision built for another PyTorch
(a CPU torch beside PyPI's CUDA-linked torchvision, or two different releases) fails at import in
PyTorch's own words ("operator torchvision::nms does not exist"), which tell a newcomer nothing."""
from __future__ import annotations

import sys
from importlib import metadata

from flowerstudio.core.foundation.errors import UserError


def import_torchvision() -> None:
    """Import torchvision; a mismatch raises UserError saying which versions and how to put them right."""
    try:
        import torchvision  # noqa: F401 - importing it is the check
    except RuntimeError as exc:
        if "torchvision::" not in str(exc):
            raise
        raise UserError(mismatch_message(str(exc))) from exc


def mismatch_message(error: str) -> str:
    def version(name: str) -> str:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return "?"

    pip = f"{sys.executable} -m pip install --force-reinstall torch torchvision"
    return (f"PyTorch {version('torch')} and torchvision {version('torchvision')} do not belong together: "
            f"torchvision was built for another PyTorch ({error}). Install the two together — on a computer "
            f"without an NVIDIA GPU: {pip} --index-url https://download.pytorch.org/whl/cpu ; with one: {pip}")
