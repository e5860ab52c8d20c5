"""One truth per run, walked as a user walks it: train, fine-tune, review new photos, add them to the dataset,
retrain, check. Every count on the way is the run's own: the Dataset page's, and the Check page's, which
evaluates exactly the validation photos of the run whose model is in use, however the folder grew."""
import json
import os
import shutil
from pathlib import Path

from helpers import scan, tiny_setup
from PySide6.QtCore import Qt

from flowerstudio.gui.state import Page


def run_split(model_path: str) -> dict:
    return json.loads((Path(model_path).parent / "split.json").read_text())


def dataset_counts(window) -> tuple[int, int]:
    """(training, validation) photos as the Dataset page's table shows them."""
    table = window.dataset_page.table
    return (sum(int(table.item(r, 2).text()) for r in range(table.rowCount())),
            sum(int(table.item(r, 3).text()) for r in range(table.rowCount())))


def test_train_fine_tune_review_add_retrain_check_shows_only_true_numbers(qtbot, window, tmp_path, messages):
    from imagefactory import make_dataset

    data = make_dataset(tmp_path / "flowers", classes=("daisy", "rose", "tulip"), per_class=12, layout="flat",
                        size=(48, 48))
    new = make_dataset(tmp_path / "new", classes=("daisy", "rose", "tulip"), per_class=2, layout="flat",
                       size=(48, 48))
    for p in new.rglob("*.jpg"):  # new photos, not copies of the dataset's
        p.rename(p.with_name("new_" + p.name))
    scan(qtbot, window, data)
    train = window.train_page
    tiny_setup(window, epochs=2)

    with qtbot.waitSignal(train.training_done, timeout=180000) as first:
        train.train_btn.click()
    model = first.args[0].best_path
    split = run_split(model)
    qtbot.waitUntil(lambda: window.state.scan.split_file is not None and not window.dataset_page.is_busy(),
                    timeout=60000)
    assert dataset_counts(window) == (len(split["train"]), len(split["val"]))  # the run's split on the page

    train.options.depth.setCurrentIndex(train.options.depth.findData("all"))
    qtbot.waitUntil(lambda: train.finetune_btn.isEnabled(), timeout=60000)
    with qtbot.waitSignal(train.training_done, timeout=180000) as tuned:
        train.finetune_btn.click()
    assert ("no gain from this stage" in train.run_label.text()) == (not tuned.args[0].gained)

    page = window.predict_page
    window.go_to(Page.PREDICT)
    qtbot.waitUntil(lambda: page.predictor is not None and page.model_path == model, timeout=60000)
    page.add_paths([str(new)])
    qtbot.waitUntil(lambda: page.gallery_model.rowCount() == 6 and not page.is_busy(), timeout=60000)
    page.gallery.setFocus()
    page.gallery.setCurrentIndex(page.proxy.index(0, 0))
    for _ in range(2):  # two photos confirmed as predicted (Enter moves on to the next one)
        qtbot.keyClick(page.gallery, Qt.Key.Key_Return)
    reviewed = [it for it in page.gallery_model.items() if it.reviewed]
    assert len(reviewed) == 2
    page.review.confirm_add()
    qtbot.waitUntil(lambda: not page.review.busy() and not window.dataset_page.is_busy(), timeout=60000)
    qtbot.waitUntil(lambda: dataset_counts(window) == (len(split["train"]) + 2, len(split["val"])), timeout=60000)

    page.review.retrain()
    qtbot.waitUntil(lambda: not page.review.busy(), timeout=180000)
    verdict = [s.text for s in messages.shown if s.title == "Retrained"][-1]
    assert ("stays" in verdict) != ("used from now on" in verdict)  # the better model is used, said with figures
    if "used from now on" in verdict:
        qtbot.waitUntil(lambda: page.model_path != model and not page.is_busy(), timeout=60000)
    in_use = page.model_path
    assert (in_use == model) == ("stays" in verdict) and window.state.model_path == in_use

    check = window.pages[Page.CHECK]
    window.go_to(Page.CHECK)
    check.set_model(in_use)
    check.set_data(str(data))
    check.evaluate()
    qtbot.waitUntil(lambda: check.report is not None and not check.is_busy(), timeout=120000)
    truth = run_split(in_use)["val"]
    assert check.report.total == len(truth) == len(split["val"])  # the run's validation photos, no others
    used = {os.path.relpath(r.path, data).replace(os.sep, "/") for r in check.report.rows}
    assert used == set(truth)
    assert f"{check.report.correct} of {len(truth)}: the run's {len(truth)} validation photos" \
        in check.headline.text()
    shutil.rmtree(new)
