"""Grad-CAM overlay job and toggle, learning-rate finder, export and server-export dialogs on real models."""
import json
from pathlib import Path

import pytest
from tinyrun import tiny_config



def a_photo(data):
    return str(next(p for p in sorted((data / "test").rglob("*.*")) if p.suffix.lower() in (".jpg", ".png")))


def test_heatmap_job_and_toggle(qtbot, trained_run, tiny_data):
    from flowerstudio.core.model.model_file import read_model_info
    from flowerstudio.gui.widgets.heatmap import HeatmapToggle

    model, photo = str(trained_run.best_path), a_photo(tiny_data)
    size = read_model_info(model).input_size

    toggle = HeatmapToggle()
    qtbot.addWidget(toggle)
    shown = []
    toggle.overlay_changed.connect(shown.append)
    assert not toggle.isEnabled()
    toggle.set_image(model, photo)
    toggle.setChecked(True)
    qtbot.waitUntil(lambda: shown and shown[-1] is not None, timeout=60000)
    image = shown[-1]
    assert (image.width(), image.height()) == (size, size) and not image.isNull()
    toggle.setChecked(False)
    assert shown[-1] is None


def test_lr_finder_dialog_suggests_a_rate_in_range(qtbot, tiny_data, tmp_path, messages):
    from flowerstudio.gui.dialogs.lr_finder import LrFinderDialog

    dlg = LrFinderDialog(tiny_config(tiny_data, tmp_path, cache_views=1, device="cpu"), num_steps=30,
                         start_lr=1e-5, end_lr=1.0)
    qtbot.addWidget(dlg)
    assert dlg.suggested_lr is None
    dlg.show()
    qtbot.waitUntil(lambda: dlg.task is not None and not dlg.task.running and dlg.result is not None,
                    timeout=60000)
    assert not messages.shown
    assert 1e-5 <= dlg.suggested_lr <= 1.0
    xs, ys = dlg.curve.getData()
    assert len(xs) == len(dlg.result.lrs) >= 3
    assert dlg.use_btn.isEnabled() and "Suggested learning rate" in dlg.explain.text()
    with qtbot.waitSignal(dlg.accepted, timeout=5000):
        dlg.use_btn.click()


def test_lr_finder_cancel_stops_the_task(qtbot, tiny_data, tmp_path, messages):
    from flowerstudio.core.foundation.events import LrPoint
    from flowerstudio.gui.dialogs.lr_finder import LrFinderDialog
    from flowerstudio.gui.jobs import Outcome

    # Tiny rates never blow the loss up, so the sweep cannot end early on its own.
    dlg = LrFinderDialog(tiny_config(tiny_data, tmp_path, cache_views=1, device="cpu", feature_cache=False),
                         num_steps=2000, start_lr=1e-7, end_lr=1e-6)
    qtbot.addWidget(dlg)
    steps = []
    dlg.show()
    job = dlg.task
    on_event = job.handlers["event"]
    job.handlers["event"] = lambda ev: (steps.append(ev) if isinstance(ev, LrPoint) else None, on_event(ev))
    qtbot.waitUntil(lambda: bool(steps), timeout=60000)  # cancel mid-sweep
    dlg.reject()
    qtbot.waitUntil(lambda: not job.running, timeout=60000)
    # A stopped sweep ends as stopped (no suggestion to use), without an error.
    assert job.outcome is Outcome.CANCELLED and not messages.shown
    assert dlg.result is None and max(ev.step for ev in steps) < 2000
    assert dlg.suggested_lr is None


def test_export_dialog_exports_onnx_and_checks_it(qtbot, trained_run, tiny_data, tmp_path, messages):
    pytest.importorskip("onnxruntime")
    from flowerstudio.gui.dialogs.export_model import ExportDialog

    dlg = ExportDialog(str(trained_run.best_path), check_folder=str(tiny_data / "test"))
    qtbot.addWidget(dlg)
    dlg.show()
    assert dlg.out_edit.text().endswith(".onnx")
    dlg.format.setCurrentIndex(1)
    assert dlg.out_edit.text().endswith(".torchscript.pt")
    dlg.format.setCurrentIndex(0)
    out = tmp_path / "exported" / "flowers.onnx"
    dlg.out_edit.setText(str(out))
    dlg.export_btn.click()
    qtbot.waitUntil(lambda: dlg.result is not None or bool(messages.shown), timeout=60000)
    assert not messages.shown
    assert out.is_file() and Path(str(out) + ".json").is_file()
    assert dlg.result.verified is True
    assert "passed" in dlg.status.text() and "largest difference in a photo's figures: " in dlg.status.text()
    assert "e-" not in dlg.status.text() and "sidecar" not in dlg.status.text() + dlg.details.text()  # plain words
    assert dlg.folder_btn.isEnabled()


def test_server_export_dialog_writes_config_and_command(qtbot, tiny_data, tmp_path):
    from PySide6.QtGui import QGuiApplication

    from flowerstudio.gui.dialogs.server_export import ServerExportDialog

    dlg = ServerExportDialog(tiny_config(tiny_data, tmp_path / "runs"))
    qtbot.addWidget(dlg)
    dlg.show()
    dlg.gpus.setValue(4)
    dlg.folder.setText(str(tmp_path / "server"))
    dlg.write_btn.click()
    qtbot.waitUntil(lambda: dlg.config_path is not None, timeout=60000)
    written = tmp_path / "server" / "server-config.json"
    assert written.is_file() and json.loads(written.read_text())["data_dir"] == ""
    command = dlg.command.toPlainText()
    assert "torchrun" in command and "--nproc_per_node=4" in command
    assert dlg.command.isReadOnly()
    dlg.copy_btn.click()
    assert QGuiApplication.clipboard().text() == command


def test_export_defaults_to_a_visible_folder_named_after_the_run(qtbot, trained_run, monkeypatch, tmp_path):
    from PySide6.QtCore import QStandardPaths

    from flowerstudio.gui.dialogs.export_model import ExportDialog

    monkeypatch.setattr(QStandardPaths, "writableLocation", lambda _loc: str(tmp_path / "Documents"))
    dlg = ExportDialog(str(trained_run.best_path))
    qtbot.addWidget(dlg)
    run_name = Path(trained_run.best_path).parent.name
    assert dlg.out_edit.text() == str(tmp_path / "Documents" / "Flower Studio exports" / f"{run_name}.onnx")
    assert not (tmp_path / "Documents").exists()  # nothing is written before Export is pressed
