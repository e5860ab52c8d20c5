"""Start-up on a small computer: the device is said at once when there is no GPU driver (no torch needed for
that), a failed GPU check is said rather than hidden, and nothing that can wait competes with loading the
model in use (the parameter count waits for torch, and for Advanced to be opened)."""
import json
import os
import subprocess
import sys

from flowerstudio.gui import engine

# The real app's start, in a process of its own (torch not imported yet), with no GPU driver.
NO_DRIVER_START = """
import json, os, sys, tempfile
os.environ["XDG_CONFIG_HOME"] = tempfile.mkdtemp()
from flowerstudio.gui import app, engine
engine.gpu_driver_present = lambda: False
qapp = app.create_app([sys.argv[0]])
from flowerstudio.gui.main_window import MainWindow
window = MainWindow()
seen = {"after construction": window.state.device_text()}
window.state.devices_changed.connect(lambda: seen.setdefault("torch imported when known", "torch" in sys.modules))
window.show()
qapp.processEvents()  # the first pass of the event loop
seen["label"] = window.device_label.text()
print(json.dumps(seen))
os._exit(0)
"""


def test_without_a_gpu_driver_the_device_is_said_before_torch_loads():
    proc = subprocess.run([sys.executable, "-c", NO_DRIVER_START], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})
    assert proc.returncode == 0, proc.stderr
    seen = json.loads(proc.stdout.strip().splitlines()[-1])
    assert seen == {"after construction": "Device: CPU", "torch imported when known": False,
                    "label": "Device: CPU"}


def test_a_failed_gpu_check_is_said_in_the_status_bar(qtbot, monkeypatch, tmp_path):
    from flowerstudio.gui.main_window import MainWindow

    def broken_probe():
        raise RuntimeError("CUDA driver initialization failed")

    monkeypatch.setattr(engine, "gpu_driver_present", lambda: True)
    monkeypatch.setattr(engine, "devices", broken_probe)
    window = MainWindow()
    qtbot.addWidget(window)
    window.show()
    state = window.state
    assert state.device_text() == "Device: …"  # a driver is there: torch is asked, in the background
    qtbot.waitUntil(lambda: state.devices_known, timeout=60000)
    assert state.devices == [("cpu", "CPU")] and "CUDA driver initialization failed" in state.device_problem
    assert state.device_text() == "Device: CPU (the GPU check failed)"
    assert "CUDA driver initialization failed" in window.train_page.options.device.toolTip()  # under Advanced
    qtbot.waitUntil(lambda: "Could not look for a GPU" in window.statusBar().currentMessage(), timeout=10000)
    assert "CUDA driver initialization failed" in window.statusBar().currentMessage()
    assert "training uses the CPU" in window.statusBar().currentMessage()


def test_the_parameter_count_waits_for_torch_and_for_advanced_to_open(qtbot, window):
    opts = window.train_page.options
    opts.advanced.toggle.setChecked(False)
    loaded = []
    window.state.engine_loaded.connect(lambda: loaded.append(True))
    qtbot.waitUntil(lambda: bool(loaded) or opts._engine_ready, timeout=60000)
    qtbot.waitUntil(lambda: "counting" not in opts.params.text(), timeout=10000)
    assert opts.params.text() == "Trainable parameters: –" and "torch" in sys.modules
    opts.advanced.toggle.setChecked(True)  # shown now: counted now
    qtbot.waitUntil(lambda: " of " in opts.params.text(), timeout=60000)
    assert "Trainable parameters: <b>" in opts.params.text()
