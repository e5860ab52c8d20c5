"""The core is Qt-free: importing every core module must not load PySide6 or pyqtgraph."""
import pkgutil
import subprocess
import sys

import flowerstudio.core


def test_core_never_imports_qt():
    """Every module of the core and the CLI imported for real (import-linter checks the import lines)."""
    modules = [m.name for m in pkgutil.walk_packages(flowerstudio.core.__path__, "flowerstudio.core.")]
    modules.append("flowerstudio.cli")
    code = (
        "import sys\n"
        + "".join(f"import {m}\n" for m in modules)
        + "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('PySide6', 'pyqtgraph', 'shiboken6'))\n"
        + "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"core imported Qt: {out.stdout}"
    assert len(modules) >= 60


def test_what_the_gui_reads_before_its_window_shows_is_light():
    """The foundation and the photos are torch-free by contract (pyproject.toml). These modules of the model
    and runs packages import torch inside the functions that need it, which import-linter counts as imports:
    this checks the window's first imports still leave torch unloaded."""
    code = ("import sys, flowerstudio.core.photos.scan, flowerstudio.core.runs.folders, flowerstudio.core.runs.record, "
            "flowerstudio.core.model.backbones, flowerstudio.core.model.model_file, flowerstudio.core.training.plan, "
            "flowerstudio.gui.main_window; print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
