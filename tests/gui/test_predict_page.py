"""Predict page: a real model labels a folder; filter, inspect, export and sort."""
import csv
import os

import pytest
from helpers import Heartbeat

from flowerstudio.core.photos.imageio import IMAGE_EXTENSIONS
from flowerstudio.gui.state import Page
from flowerstudio.gui.widgets.gallery_model import ItemRole


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A tiny model trained through the core (the GUI path is covered in test_train_page)."""
    from imagefactory import make_dataset

    from flowerstudio.core.foundation.config import TrainConfig
    from flowerstudio.core.training.trainer import train

    root = tmp_path_factory.mktemp("pred")
    data = make_dataset(root / "data", classes=("daisy", "rose", "tulip"), per_class=8, layout="split")
    result = train(TrainConfig(data_dir=str(data), input_size=64, batch_size=8, epochs=2, lr=0.01,
                               cache_views=1, device="cpu", output_dir=str(root / "runs")))
    return data, result.best_path


def load(qtbot, page, path):
    page.load_model(path)
    qtbot.waitUntil(lambda: page.predictor is not None and page.model_path == path, timeout=60000)


def predict(qtbot, page, paths, n):
    page.add_paths(paths)
    qtbot.waitUntil(lambda: page.gallery_model.rowCount() == n and not page.is_busy(), timeout=60000)


def test_predict_folder_filter_export_sort(qtbot, window, trained, tmp_path, messages):
    data, model = trained
    page = window.predict_page
    window.go_to(Page.PREDICT)
    load(qtbot, page, model)
    label = page.model_bar.label.text()
    assert "3 classes" in label and "efficientnet_lite0" in page.model_bar.label.toolTip()  # the network: a detail
    assert page.class_filter.count() == 4
    predict(qtbot, page, [str(data / "valid")], 6)
    items = page.gallery_model.items()
    assert all(it.correct is not None for it in items)  # folders named after classes
    assert "accuracy" in page.counts.text()
    confs = [page.proxy.index(r, 0).data(ItemRole).confidence for r in range(page.proxy.rowCount())]
    assert confs == sorted(confs)  # least confident first, for review

    page.class_filter.setCurrentIndex(1)
    shown = [page.proxy.index(r, 0).data(ItemRole) for r in range(page.proxy.rowCount())]
    assert all(it.label == 0 for it in shown)
    assert len(shown) == sum(1 for it in items if it.label == 0)
    page.class_filter.setCurrentIndex(0)
    page.min_conf.setValue(100)
    assert page.proxy.rowCount() == sum(1 for it in items if it.confidence >= 1.0)
    page.min_conf.setValue(0)
    page.only_wrong.setChecked(True)
    assert page.proxy.rowCount() == sum(1 for it in items if it.correct is False)
    page.only_wrong.setChecked(False)
    page.sort.setCurrentIndex(page.sort.findData("confidence_desc"))
    assert page.proxy.index(0, 0).data(ItemRole).confidence == max(it.confidence for it in items)

    assert page.detail.bars.isHidden()  # nothing selected: no empty chart
    page.gallery.setCurrentIndex(page.proxy.index(0, 0))
    assert page.detail.bars.labels and len(page.detail.bars.labels) == 3 and not page.detail.bars.isHidden()
    qtbot.waitUntil(lambda: page.detail.image._photo is not None, timeout=10000)

    out = tmp_path / "pred.csv"
    with qtbot.waitSignal(page.output.exported, timeout=10000):
        page.output.export_csv(str(out))
    rows = list(csv.reader(out.open()))
    assert rows[0][:3] == ["path", "label", "confidence"] and len(rows) == 7

    dest = tmp_path / "sorted"
    page.output.threshold.setValue(50)
    with qtbot.waitSignal(page.output.sorted, timeout=10000) as blocker:
        page.output.sort_into(str(dest))
    summary = blocker.args[0]
    assert sum(summary.counts.values()) == 6 and not summary.moved
    assert len(list(dest.rglob("*.jpg"))) == 6
    assert len(list((data / "valid").rglob("*.jpg"))) == 6  # copied, not moved
    with qtbot.waitSignal(page.output.sorted, timeout=10000) as blocker:
        page.output.sort_into(str(dest))
    assert blocker.args[0].renamed == 6  # never overwrites
    # Undo takes back the second sort's six copies, and only those; then the first sort's, and that is all.
    page.output.undo_last_sort()
    qtbot.waitUntil(lambda: sum(b.title == "Sort undone" for b in messages.shown) == 1, timeout=10000)
    assert len(list(dest.rglob("*.jpg"))) == 6 and page.output.undo_btn.isEnabled()
    page.output.undo_last_sort()
    qtbot.waitUntil(lambda: sum(b.title == "Sort undone" for b in messages.shown) == 2, timeout=10000)
    assert not dest.exists() or not list(dest.rglob("*.jpg"))
    assert len(list((data / "valid").rglob("*.jpg"))) == 6 and not page.output.undo_btn.isEnabled()
    assert "Photos sorted" in [b.title for b in messages.shown]


def test_stop_prediction_and_resume(qtbot, window, trained, tmp_path):
    from imagefactory import make_dataset

    _, model = trained
    many = make_dataset(tmp_path / "many", classes=("daisy", "rose"), per_class=150, layout="flat")
    page = window.predict_page
    load(qtbot, page, model)
    beat = Heartbeat().start()
    page.add_paths([str(many)])
    qtbot.waitUntil(lambda: page.stop_btn.isEnabled(), timeout=60000)  # the prediction job is under way
    page.stop_btn.click()
    qtbot.waitUntil(lambda: not page.is_busy(), timeout=30000)
    beat.stop()
    done = page.gallery_model.rowCount()
    assert done < 300 and len(page.pending) == 300 - done  # every photo is shown or waiting, none twice
    assert "waiting" in page.counts.text()
    assert beat.max_gap_ms < 250, f"GUI froze for {beat.max_gap_ms} ms"
    # Adding more photos resumes with the waiting ones: each photo predicted exactly once.
    page.add_paths([str(many / "daisy")])
    qtbot.waitUntil(lambda: not page.pending and not page.is_busy(), timeout=120000)
    paths = [it.path for it in page.gallery_model.items()]
    assert len(paths) == len(set(paths)) == 300


def test_default_model_is_latest_run_of_the_chosen_runs_folder(qtbot, window, trained):
    _, model = trained
    # The user points the Train page at another runs folder: Predict and Check look there too.
    window.train_page.options.output_dir.setText(os.path.dirname(os.path.dirname(model)))
    window.go_to(Page.PREDICT)
    qtbot.waitUntil(lambda: window.predict_page.model_path == model, timeout=60000)
    window.go_to(Page.CHECK)
    assert window.pages[Page.CHECK].model_edit.text() == model


def test_use_latest_run_button_follows_the_runs_folder(qtbot, window, trained, tmp_path):
    _, model = trained
    bar = window.predict_page.model_bar
    window.train_page.options.output_dir.setText(str(tmp_path / "no-runs-here"))
    bar.use_latest()
    assert "No finished training run" in bar.label.text()
    window.train_page.options.output_dir.setText(os.path.dirname(os.path.dirname(model)))
    bar.use_latest()
    qtbot.waitUntil(lambda: window.predict_page.model_path == model, timeout=60000)


def test_a_photo_opened_as_a_model_says_so_and_keeps_the_model(qtbot, window, trained, messages):
    data, model = trained
    page = window.predict_page
    load(qtbot, page, model)
    photo = str(next((data / "valid").rglob("*.jpg")))
    page.load_model(photo)
    assert "This is a photo, not a model" in messages.shown[-1].text
    assert page.model_path == model and model in page.model_bar.label.text()


def test_review_loop_label_add_to_dataset_and_retrain(qtbot, window, trained, tmp_path, messages, monkeypatch):
    """A newcomer reviews photos with the keyboard, adds them to the dataset, retrains, and the rest are
    predicted again by the new model — without leaving the page."""
    import shutil

    from PySide6.QtCore import Qt

    from flowerstudio.core.photos.review import ReviewStore
    from flowerstudio.gui.pages import predict_review

    data, model = trained
    monkeypatch.setattr(predict_review, "default_store_path", lambda: tmp_path / "labels.jsonl")
    work = tmp_path / "dataset"
    shutil.copytree(data, work)
    with qtbot.waitSignal(window.state.scan_changed, timeout=60000):
        window.dataset_page.open_folder(str(work))
    page = window.predict_page
    page.review.store = ReviewStore.open(tmp_path / "labels.jsonl")
    load(qtbot, page, model)
    new = tmp_path / "new"
    shutil.copytree(data / "valid", new)  # photos in class folders: the truth is known
    predict(qtbot, page, [str(new)], 6)
    view = page.gallery
    view.setFocus()
    view.setCurrentIndex(page.proxy.index(0, 0))
    first = page.proxy.index(0, 0).data(ItemRole)
    qtbot.keyClick(view, Qt.Key.Key_Return)  # the prediction is right
    assert first.reviewed == first.title and page.review.store.labels[first.path] == page.classes()[0][first.label]
    second = page.gallery_model.item(page.proxy.mapToSource(view.currentIndex()).row())
    assert second is not first  # on to the next photo
    qtbot.keyClicks(view, "tu")  # type-ahead: "tulip"
    assert second.reviewed == "tulip" and "Reviewed <b>2</b> of 6" in page.review.counts.text()
    qtbot.keyClick(view, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)  # undo
    assert second.reviewed is None and second.path not in page.review.store.labels
    qtbot.keyClick(view, Qt.Key.Key_3)
    assert second.reviewed == page.classes()[1][2]
    page.review.show_box.setCurrentIndex(1)  # only the photos still to review
    assert page.proxy.rowCount() == 4

    before = len(list((work / "train").rglob("*.jpg")))
    page.review.confirm_add()
    qtbot.waitUntil(lambda: not page.review.busy(), timeout=30000)
    assert len(list((work / "train").rglob("*.jpg"))) == before + 2
    assert page.review.undo_add_btn.isEnabled()  # the addition can be taken back (after a restart too)
    assert not page.review.add_btn.isEnabled()  # every reviewed photo here is in: nothing waits to be added
    page.review.confirm_add()  # pressed again: nothing is copied twice
    qtbot.waitUntil(lambda: not page.review.busy(), timeout=30000)
    assert len(list((work / "train").rglob("*.jpg"))) == before + 2
    assert any(s.title == "Nothing to add" for s in messages.shown)

    # Sorting puts the reviewed photos where the user said, whatever the model's confidence.
    dest = tmp_path / "sorted"
    page.review.show_box.setCurrentIndex(0)  # all photos again: a sort takes the photos shown
    page.output.threshold.setValue(100)  # every unreviewed photo is "unsure"
    with qtbot.waitSignal(page.output.sorted, timeout=30000) as sorted_:
        page.output.sort_into(str(dest))
    assert sorted_.args[0].reviewed == 2
    placed = dict(sorted_.args[0].placed)
    for item in page.gallery_model.items():
        if item.reviewed:  # in the folder of the class the user gave it
            assert os.path.basename(os.path.dirname(placed[item.path])) == item.reviewed
    assert len(placed) == 6

    page.review.retrain()
    qtbot.waitUntil(lambda: not page.review.busy(), timeout=120000)
    verdict = [s.text for s in messages.shown if s.title == "Retrained"][-1]
    assert "The retrained model scores" in verdict and "the model in use" in verdict and "%" in verdict
    if page.review.use_retrained_btn.isVisible():  # the model in use was as good or better: it stayed
        assert page.model_path == model and "stays" in verdict
        page.review.use_retrained_btn.click()
    qtbot.waitUntil(lambda: page.model_path != model and not page.is_busy() and
                    page.gallery_model.rowCount() == 6, timeout=120000)
    reviewed = [it for it in page.gallery_model.items() if it.reviewed]
    assert len(reviewed) == 2  # kept; the 4 others were predicted again by the new model
    assert [it.payload.path for it in page.gallery_model.items() if not it.reviewed] != []


@pytest.mark.skipif(".heic" in IMAGE_EXTENSIONS, reason="pillow-heif is installed: HEIC is read")
def test_photos_that_cannot_be_read_say_why(qtbot, window, trained, tmp_path):
    """A phone's HEIC photo beside a JPEG: the JPEG is labelled, the HEIC counted and explained."""
    import shutil

    data, model = trained
    page = window.predict_page
    window.go_to(Page.PREDICT)
    load(qtbot, page, model)
    page.clear()
    folder = tmp_path / "phone"
    folder.mkdir()
    shutil.copy(next((data / "valid" / "daisy").iterdir()), folder)
    (folder / "IMG_1.HEIC").write_bytes(b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + bytes(200))
    predict(qtbot, page, [str(folder)], 1)
    assert "1 unreadable" in page.counts.text()
    assert "1 photo could not be read: HEIC photo" in page.hint.text()
    page.clear()  # the photos are gone, and so is why they could not be read
    assert "could not be read" not in page.hint.text() and "unreadable" not in page.counts.text()


def test_the_add_photos_dialog_offers_every_format_the_app_knows():
    """The dialog's filter comes from the one list of formats: phone and camera photos included (the
    ones the app cannot read are then reported, with what to do)."""
    from flowerstudio.core.photos.imageio import PHOTO_EXTENSIONS
    from flowerstudio.gui.pages.predict import IMAGE_FILTER

    offered = set(IMAGE_FILTER.split("(")[1].split(")")[0].split())
    assert {"*.jpg", "*.jfif", "*.heic", "*.nef"} <= offered
    assert offered == {"*" + ext for ext in PHOTO_EXTENSIONS}
