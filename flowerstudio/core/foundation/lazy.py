"""A package's public names, imported from its modules when first used (PEP 562; scientific Python's SPEC 1).

``from flowerstudio.core.training import train`` reads as the package's API, while importing the package
costs only what is used: the GUI reads ``flowerstudio.core.training.plan`` before its window shows, and
the trainer (torch) loads later, on a job's thread.
"""
from __future__ import annotations

import importlib
import sys
from typing import Callable


def lazy_exports(package: str, names: dict[str, str]) -> tuple[Callable, Callable]:
    """``(__getattr__, __dir__)`` for ``package``: each name in ``names`` comes from the module it maps to."""
    def __getattr__(name: str):
        module = names.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"{package}.{module}"), name)
        setattr(sys.modules[package], name, value)  # found once: later lookups are plain attributes
        return value

    def __dir__() -> list[str]:
        return sorted(set(names) | set(vars(sys.modules[package])))

    return __getattr__, __dir__
