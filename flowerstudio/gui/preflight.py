"""Before Qt starts on Linux: are the system libraries its X11 (xcb) plugin needs installed?

Without them Qt aborts with a message that names only one of them (often the wrong one). This
asks the dynamic linker (``ldd``) what is missing and names the exact packages to install.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Optional


def xcb_plugin() -> Optional[Path]:
    import PySide6

    path = Path(PySide6.__file__).parent / "Qt" / "plugins" / "platforms" / "libqxcb.so"
    return path if path.is_file() else None


def missing_libraries(plugin: Path) -> list[str]:
    """Sonames ``ldd`` cannot find for the plugin, e.g. ['libxcb-icccm.so.4']."""
    out = subprocess.run(["ldd", str(plugin)], capture_output=True, text=True, timeout=30).stdout
    return sorted(set(re.findall(r"^\s*(\S+) => not found", out, flags=re.M)))


def debian_package(soname: str) -> str:
    """Debian's library package name for a soname: libfoo.so.4 -> libfoo4, libfoo-x11.so.0 -> libfoo-x11-0."""
    m = re.match(r"^(lib.+?)\.so\.(\d+)", soname)
    if not m:
        return soname
    name, version = m.groups()
    return f"{name.lower()}{'-' if name[-1].isdigit() else ''}{version}"


def check_display_libraries() -> Optional[str]:
    """A message naming what to install, or None when Qt can start (or this is not X11 on Linux)."""
    if not sys.platform.startswith("linux") or os.environ.get("QT_QPA_PLATFORM", "xcb") != "xcb":
        return None
    plugin = xcb_plugin()
    if plugin is None or shutil.which("ldd") is None:
        return None
    missing = missing_libraries(plugin)
    if not missing:
        return None
    packages = " ".join(debian_package(s) for s in missing)
    return (f"Flower Studio cannot open its window: these system libraries are missing: {', '.join(missing)}.\n"
            f"On Debian or Ubuntu, install them with:\n    sudo apt-get install -y {packages}\n"
            "(Other systems: install the packages that provide these files.)")
