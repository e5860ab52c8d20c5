"""The core is Qt-free: importing every core module must not load PySide6 or pyqtgraph."""
import pkgutil
import subprocess
import sys

import flowerstudio.core


def test_core_never_imports_qt():
    modules = [f"flowerstudio.core.{m.name}" for m in pkgutil.iter_modules(flowerstudio.core.__path__)]
    modules.append("flowerstudio.cli")
    code = (
        "import sys\n"
        + "".join(f"import {m}\n" for m in modules)
        + "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('PySide6', 'pyqtgraph', 'shiboken6'))\n"
        + "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"core imported Qt: {out.stdout}"
    assert len(modules) >= 10


def test_core_package_and_scan_are_light():
    """The GUI imports these before its window shows: they must not pull in torch."""
    code = ("import sys, flowerstudio.core, flowerstudio.core.dataset, flowerstudio.core.config, "
            "flowerstudio.core.events, flowerstudio.core.backbones, flowerstudio.core.checkpoints; print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
