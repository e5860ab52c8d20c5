"""The GUI thread stays responsive while work runs, and lists/charts scale to 102 classes."""
from helpers import Heartbeat, tiny_setup
from PySide6.QtCore import QPoint
from PySide6.QtWidgets import QListView

from flowerstudio.gui.app import freeze_what_started
from flowerstudio.gui.state import Page
from flowerstudio.gui.widgets.gallery_model import GalleryFilter, GalleryItem, GalleryModel, ItemRole


def test_gui_heartbeat_during_scan_train_predict(qtbot, window, tmp_path):
    from imagefactory import make_dataset

    data = make_dataset(tmp_path / "data", classes=("daisy", "rose", "tulip"), per_class=60, layout="flat")
    opts = window.train_page.options
    # Start-up imports torch/timm once in the background; measure the steady state after it.
    qtbot.waitUntil(lambda: bool(opts.num_stages) and "counting" not in opts.params.text(), timeout=60000)
    freeze_what_started()  # as the app does after start-up; earlier tests left much garbage behind
    beat = Heartbeat().start()
    with qtbot.waitSignal(window.state.scan_changed, timeout=60000):
        window.dataset_page.open_folder(str(data))
    scan_gap = beat.max_gap_ms
    tiny_setup(window)
    page = window.train_page
    with qtbot.waitSignal(page.training_done, timeout=180000) as blocker:
        page.train_btn.click()
    train_gap = beat.max_gap_ms
    predict = window.predict_page
    window.go_to(Page.PREDICT)
    qtbot.waitUntil(lambda: predict.model_path == blocker.args[0].best_path and predict.predictor is not None,
                    timeout=60000)
    predict.add_paths([str(data)])
    qtbot.waitUntil(lambda: predict.gallery_model.rowCount() == 180 and not predict.is_busy(), timeout=120000)
    beat.stop()
    assert beat.beats > 20
    assert max(scan_gap, train_gap, beat.max_gap_ms) < 250, (scan_gap, train_gap, beat.max_gap_ms)


def test_102_classes_stay_usable(qtbot, window, tmp_path):
    from imagefactory import make_dataset

    classes = [f"{i + 1}" for i in range(102)]
    names = {c: f"flower number {c}" for c in classes}
    data = make_dataset(tmp_path / "flowers102", classes=classes, per_class=3, layout="split", size=(24, 20),
                        names=names)
    page = window.dataset_page
    with qtbot.waitSignal(window.state.scan_changed, timeout=60000):
        page.open_folder(str(data))
    assert page.table.rowCount() == 102
    assert len(page.chart.names) == 102
    assert page.chart.plot_widget.minimumHeight() >= 102 * 18  # one readable row per class, scrolls
    page.select_class(101)
    assert page.selected_class() == 101 and page.gallery_model.rowCount() == 4
    # Natural order: "2" before "10".
    assert [page.table.item(r, 1).text() for r in range(3)] == ["1", "2", "3"]
    assert "photos per class" in window.train_page.options.hint.text()


def test_gallery_filter_scales_to_thousands(qtbot, window):
    model = GalleryModel(window.thumbs)
    items = [GalleryItem(f"/nowhere/{i}.jpg", f"class {i % 102}", label=i % 102, confidence=(i % 97) / 97,
                         correct=(i % 3 != 0)) for i in range(5000)]
    model.set_items(items)
    proxy = GalleryFilter()
    proxy.setSourceModel(model)
    proxy.configure(sort="confidence_asc")
    assert proxy.rowCount() == 5000
    proxy.configure(label=101)
    assert proxy.rowCount() == sum(1 for it in items if it.label == 101)
    proxy.configure(min_confidence=0.5)
    assert proxy.rowCount() == sum(1 for it in items if it.confidence >= 0.5)
    proxy.configure(only_wrong=True)
    assert proxy.rowCount() == sum(1 for it in items if it.correct is False)
    proxy.configure(only_wrong=True, sort="confidence_desc")
    first = proxy.index(0, 0).data(ItemRole)
    assert first.confidence == max(it.confidence for it in items if it.correct is False)
    # The real gallery view paints it: only the visible rows ask for thumbnails.
    view = window.predict_page.gallery
    view.setModel(proxy)
    window.go_to(Page.PREDICT)
    corner = QPoint(10, 10)  # viewport coordinates: the first tile
    qtbot.waitUntil(lambda: view.isVisible() and view.indexAt(corner).isValid(), timeout=5000)
    assert view.indexAt(corner).data(ItemRole) is first


def test_sorting_rearranges_the_photos_and_the_selection_follows(qtbot, window):
    model = GalleryModel(window.thumbs)
    items = [GalleryItem(f"/nowhere/{i}.jpg", f"class {i}", label=0, confidence=c)
             for i, c in enumerate([0.9, 0.1, 0.5, 0.7])]
    model.set_items(items)
    proxy = GalleryFilter()
    proxy.setSourceModel(model)
    view = QListView()
    qtbot.addWidget(view)
    view.setModel(proxy)

    def shown():
        return [proxy.index(r, 0).data(ItemRole).confidence for r in range(proxy.rowCount())]

    proxy.configure(sort="confidence_desc")
    assert shown() == [0.9, 0.7, 0.5, 0.1]
    view.setCurrentIndex(proxy.index(2, 0))
    assert view.currentIndex().data(ItemRole) is items[2]
    proxy.configure(sort="confidence_asc", min_confidence=0.3)  # filter and order in one pass
    assert shown() == [0.5, 0.7, 0.9]
    assert view.currentIndex().data(ItemRole) is items[2]  # still the same photo, now first
    # A thumbnail arriving later repaints the photo's new row, not its old one.
    with qtbot.waitSignal(model.dataChanged) as changed:
        model.changed(items[0].path)
    assert model.item(changed.args[0].row()) is items[0]
    proxy.configure(sort="name", min_confidence=0.3)
    assert [proxy.index(r, 0).data(ItemRole) for r in range(3)] == [items[0], items[2], items[3]]
