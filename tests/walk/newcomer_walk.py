"""A newcomer's walk through the app at 1366x768, driven step by step, with a screenshot of each screen and a
timed log (OUT/walk.log): dataset -> first step -> the advised next step, stopped after 15 s -> predict a folder
-> review 15 photos -> add them (and press again) -> retrain -> check -> sort and undo -> the second button,
then quit mid-run. Dialogs are answered "yes" and their texts logged.

    xvfb-run -a -s "-screen 0 1366x768x24" .venv/bin/python tests/walk/newcomer_walk.py OUT DATA NEW RUNS

DATA: one folder per class (e.g. 40 TrashNet photos of each of 5 classes from ../shared/data/trashnet);
NEW: a flat folder of other photos named CLASS_*.jpg (the walk reviews them by that prefix); RUNS: where the
runs go. Not a test: pytest does not collect it (it needs a screen and ImageMagick's `import`)."""
import os, sys, tempfile, time, subprocess
os.environ["XDG_CONFIG_HOME"] = tempfile.mkdtemp(prefix="walk-cfg-")
from PySide6.QtCore import QTimer
from flowerstudio.gui import app, settings, messages

out, data, new, runs = sys.argv[1:5]
os.makedirs(out, exist_ok=True)
T0 = time.monotonic()
LOG = open(os.path.join(out, "walk.log"), "w")


def log(msg):
    line = f"[{time.monotonic() - T0:7.1f}s] {msg}"
    print(line, flush=True)
    LOG.write(line + "\n")
    LOG.flush()


qapp = app.create_app([sys.argv[0]])
messages.show_error = lambda _p, title, text, details="": log(f"ERROR BOX {title}: {text}")
messages.show_info = lambda _p, title, text, details="": log(f"INFO BOX {title}: {text}")


def ask(_p, title, question, yes="Yes", no="No"):
    log(f"ASK {title}: {question!r} [{yes}/{no}] -> {yes}")
    return True


messages.ask = ask
settings.put("train/output_dir", runs)
from flowerstudio.gui.main_window import MainWindow
from flowerstudio.gui.state import Page

window = MainWindow()
window.setGeometry(0, 0, 1366, 768 - 40)
window.show()
ds, tp, pp = window.dataset_page, window.train_page, window.predict_page
cp = window.pages[Page.CHECK]
marks = {}


def shoot(name):
    path = os.path.join(out, f"{name}.png")
    subprocess.run(["import", "-window", "root", path], check=False)
    log(f"shot {name}")


def mark(name):
    marks[name] = time.monotonic()


def since(name):
    return time.monotonic() - marks[name]


def review_some():
    folders, names = pp.classes()
    items = pp.gallery_model.items()[:15]
    for it in items:
        true = os.path.basename(it.path).split("_")[0]
        pp.review.decide(it, folders.index(true))
    log(f"reviewed {len(items)}; counts: {pp.review.counts.text() if hasattr(pp.review, 'counts') else ''}")


def stop_next():
    mark("stop")
    tp.stop()


def quit_now():
    mark("quit")
    window.close()


S = [
    (None, lambda: shoot("01_start")),
    (None, lambda: (mark("scan"), ds.open_folder(data))),
    (lambda: ds.scan is not None and not ds.is_busy(), lambda: log(f"scan done in {since('scan'):.1f}s")),
    (None, lambda: shoot("02_dataset")),
    (None, lambda: window.go_to(Page.TRAIN)),
    (None, lambda: shoot("03_train_ready")),
    (None, lambda: (mark("train"), tp.start_training())),
    (lambda: tp.is_busy(), lambda: None),
    (lambda: not tp.is_busy(), lambda: log(f"first step done in {since('train'):.1f}s; next button: "
                                           f"{tp.finetune_btn.text()!r}")),
    (None, lambda: shoot("04_trained")),
    (None, lambda: (mark("ft"), tp.start_next_stage())),
    (lambda: tp.is_busy() and since("ft") > 15, lambda: shoot("05_next_running")),
    (None, stop_next),
    (lambda: not tp.is_busy(), lambda: log(f"stopped in {since('stop'):.2f}s after pressing Stop")),
    (lambda: tp.advice is not None, lambda: log(f"after stop the second button says {tp.finetune_btn.text()!r}")),
    (None, lambda: shoot("06_stopped")),
    (None, lambda: window.go_to(Page.PREDICT)),
    (None, lambda: (mark("pred"), pp.add_paths([new]))),
    (lambda: pp.gallery_model.items() and not pp.is_busy(),
     lambda: log(f"labelled {len(pp.gallery_model.items())} photos in {since('pred'):.1f}s")),
    (None, lambda: shoot("07_predicted")),
    (None, review_some),
    (None, lambda: shoot("08_reviewed")),
    (None, lambda: pp.review.confirm_add()),
    (lambda: not pp.review.busy(), lambda: log(f"add btn enabled: {pp.review.add_btn.isEnabled()}, "
                                               f"undo add enabled: {pp.review.undo_add_btn.isEnabled()}")),
    (None, lambda: pp.review.confirm_add()),  # pressed again: nothing more to add
    (None, lambda: shoot("09_added")),
    (None, lambda: (mark("re"), pp.review.retrain())),
    (lambda: not pp.review.busy(), lambda: log(f"retrain done in {since('re'):.1f}s; model {window.state.model_path}")),
    (None, lambda: shoot("10_retrained")),
    (None, lambda: (window.go_to(Page.CHECK), cp.set_data(data), mark("ev"), cp.evaluate())),
    (lambda: cp.report is not None and not cp.is_busy(), lambda: log(f"evaluated in {since('ev'):.1f}s")),
    (None, lambda: shoot("11_check")),
    (None, lambda: window.go_to(Page.DATASET)),
    (lambda: not ds.is_busy(), lambda: shoot("12_dataset_after_add")),
    (None, lambda: window.go_to(Page.PREDICT)),
    (None, lambda: pp.output.sort_into(os.path.join(out, "sorted"))),
    (lambda: not pp.output._busy, lambda: shoot("13_sorted")),
    (None, lambda: pp.output.undo_last_sort()),
    (lambda: pp.output.undo_btn.isEnabled() is False or True, lambda: None),
    (None, lambda: shoot("14_sort_undone")),
    (None, lambda: window.show_shortcuts()),
    (None, lambda: shoot("15_shortcuts")),
    (None, lambda: [w.close() for w in qapp.topLevelWidgets() if w is not window and w.isVisible()]),
    (None, lambda: (window.go_to(Page.TRAIN), log(f"second button: {tp.finetune_btn.text()!r}"),
                    tp.start_next_stage())),
    (lambda: tp.is_busy(), lambda: mark("running")),
    (lambda: since("running") > 6, quit_now),
    (None, lambda: shoot("16_quitting")),
]
state = {"i": 0, "t": time.monotonic()}


def tick():
    if state["i"] >= len(S):
        return
    cond, act = S[state["i"]]
    if cond is None and time.monotonic() - state["t"] < 1.0:
        return
    if cond is not None and not cond():
        if time.monotonic() - state["t"] > 900:
            log(f"TIMEOUT at step {state['i']}")
            state["i"] = len(S)
            window.close()
        return
    act()
    state["i"] += 1
    state["t"] = time.monotonic()


timer = QTimer(window, interval=50)
timer.timeout.connect(tick)
timer.start()
rc = app.finish(qapp.exec())
log(f"exited rc={rc} {time.monotonic() - marks.get('quit', T0):.2f}s after quit")
sys.exit(rc)
