"""The real app, offscreen: start one kind of background job, then close the window as a user would.

Run by test_quit.py in a subprocess: ``python quit_driver.py KIND DATA MODEL RUNS``. The exit code is the
app's; "QThread: Destroyed while thread … is still running" or a crash would show in it and on stderr.
"""
import sys

from PySide6.QtCore import QTimer

from flowerstudio.gui import app, messages

kind, data, model, runs = sys.argv[1:5]
messages.ask = lambda *_a, **_k: True  # "Stop and quit"
messages.show_error = lambda _p, title, text, details="": print(f"ERROR BOX {title}: {text}", file=sys.stderr)
qapp = app.create_app([sys.argv[0]])

from flowerstudio.gui.main_window import MainWindow  # noqa: E402
from flowerstudio.gui.state import Page  # noqa: E402

window = MainWindow()
window.show()
opts = window.train_page.options
opts.output_dir.setText(runs)
opts.input_size.setValue(64)
opts.batch.setValue(4)
opts.epochs.setValue(200)
opts.device.setCurrentIndex(opts.device.findData("cpu"))
opts.overrides = {"feature_cache": False}  # image by image: slow enough to be mid-run when closed


def when(condition, then, interval_ms=20):
    """Poll on the GUI thread (no sleeps): run ``then`` once ``condition`` holds."""
    timer = QTimer(window)
    timer.setInterval(interval_ms)

    def check():
        if condition():
            timer.stop()
            then()
    timer.timeout.connect(check)
    timer.start()


def close():
    print(f"closing during {kind}", flush=True)
    window.close()


def scanned():
    return window.state.scan is not None


def start():
    train, predict, check = window.train_page, window.predict_page, window.pages[Page.CHECK]
    if kind == "scan":
        window.dataset_page.open_folder(data)
        when(lambda: window.dataset_page.is_busy(), close, 1)
    elif kind == "train":  # quit once a best model is on disk: it must stay intact
        window.dataset_page.open_folder(data)
        when(scanned, lambda: (train.start_training(), when(lambda: bool(train.best_path), close)))
    elif kind == "lr_find":
        window.dataset_page.open_folder(data)
        when(scanned, lambda: (train.find_lr(), when(lambda: train.lr_dialog.is_busy(), close)))
    elif kind == "load_model":
        window.go_to(Page.PREDICT)
        predict.load_model(model)
        close()
    elif kind == "predict":
        predict.load_model(model)
        when(lambda: predict.predictor is not None,
             lambda: (predict.add_paths([data]), when(lambda: predict.gallery_model.rowCount() > 0, close)))
    elif kind == "evaluate":
        check.set_model(model)
        check.set_data(data)
        check.evaluate()
        close()
    elif kind == "export":
        from flowerstudio.gui.dialogs.export_model import ExportDialog

        dlg = ExportDialog(model, window, check_folder=data)
        dlg.out_edit.setText(runs + "/exported.onnx")
        dlg.show()
        dlg.export()
        close()
    else:
        raise SystemExit(f"unknown kind {kind}")


QTimer.singleShot(0, start)
sys.exit(app.finish(qapp.exec()))
