"""Check page on a real tiny model: table, confusion matrix, cell photos and mistakes."""
import os

from PySide6.QtCore import Qt

from flowerstudio.gui.pages.check import CheckPage


def make_page(qtbot):
    from flowerstudio.gui.state import AppState
    from flowerstudio.gui.widgets.thumbnails import ThumbnailCache

    state = AppState()
    page = CheckPage(state, ThumbnailCache(size=64, parent=state))
    qtbot.addWidget(page)
    return page


def test_check_page_shows_table_matrix_cells_and_mistakes(qtbot, trained_run, tiny_data):
    from flowerstudio.core.labelling.evaluate import evaluate

    page = make_page(qtbot)
    page.resize(1200, 800)
    page.show()
    page.set_model(str(trained_run.best_path))
    page.set_data(str(tiny_data))
    with qtbot.waitSignal(page.evaluated, timeout=60000) as blocker:
        page.evaluate()
    qtbot.waitUntil(lambda: not page.is_busy(), timeout=60000)
    assert page.eval_btn.isEnabled() and not page.stop_btn.isEnabled()
    report = blocker.args[0]
    expected = evaluate(trained_run.best_path, tiny_data, device="cpu")
    assert report.confusion == expected.confusion and report.split == "test"

    assert page.classes.proxy.rowCount() == 3
    assert f"{100 * report.accuracy:.1f}%" in page.headline.text()
    cm = page.confusion.matrix_model
    total = sum(cm.index(r, c).data(Qt.ItemDataRole.UserRole) for r in range(3) for c in range(3))
    photos = [p for p in (tiny_data / "test").rglob("*") if p.is_file()]
    assert total == report.total == len(photos)
    accs = [page.classes.proxy.index(r, 3).data(Qt.ItemDataRole.UserRole + 1) for r in range(3)]
    assert accs == sorted(accs)  # worst class first
    page.classes.view.sortByColumn(0, Qt.SortOrder.AscendingOrder)
    names = [page.classes.proxy.index(r, 0).data() for r in range(3)]
    assert names == sorted(names, key=str.lower)

    # Every cell lists exactly its photos: mistakes by (true, predicted), the rest on the diagonal.
    page.tabs.setCurrentIndex(1)
    wrong = {m.path for m in report.mistakes}
    seen = []
    for r in range(3):
        for c in range(3):
            rect = page.confusion.table.visualRect(cm.index(r, c))
            qtbot.mouseClick(page.confusion.table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
            listed = page.cell_photos.paths()
            assert len(listed) == report.confusion[r][c]
            folder = report.classes[r]
            assert all(os.path.basename(os.path.dirname(p)) == folder for p in listed)
            if r == c:
                assert not set(listed) & wrong
            else:
                assert listed == [m.path for m in report.mistakes
                                  if (m.true_name, m.predicted_name) == (report.display_names[r],
                                                                         report.display_names[c])]
            seen += listed
    assert sorted(seen) == sorted(str(p) for p in photos)

    assert page.mistakes.mistakes() == report.mistakes
    assert page.tabs.tabText(2) == f"Mistakes ({len(report.mistakes)})"
    if report.mistakes:
        detail = page.mistakes.detail
        assert detail.photo.path == report.mistakes[0].path
        assert report.mistakes[0].true_name in detail.text.text()
    assert page.reliability.points and all(0 <= x <= 100 and 0 <= y <= 100 for x, y in page.reliability.points)
    assert f"{100 * report.ece:.1f} points" in page.reliability.caption.text()
    confidences = [m.confidence for m in page.mistakes.mistakes()]
    assert confidences == sorted(confidences, reverse=True)  # "most confident first", as the tab says


def test_check_page_speaks_plainly_with_the_technical_words_in_tooltips(qtbot, trained_run, tiny_data):
    from flowerstudio.core.labelling.evaluate import evaluate

    page = make_page(qtbot)
    page.set_model(str(trained_run.best_path))
    page._show(evaluate(trained_run.best_path, tiny_data, device="cpu"), str(trained_run.best_path))
    shown = [page.tabs.tabText(i) for i in range(page.tabs.count())] + [page.reliability.caption.text(),
                                                                        page.model_info.text()]
    for jargon in ("softmax", "ECE", "calibrat", "Confusion", "predicted as", "True class"):
        assert not any(jargon in text for text in shown), jargon
    assert page.tabs.tabText(1) == "Mix-ups" and "confusion matrix" in page.tabs.tabToolTip(1)
    assert "softmax" in page.reliability.caption.toolTip() and "(ECE)" in page.reliability.caption.toolTip()
    page.show_cell(0, 1)
    assert "photos the model took for" in page.cell_photos.caption.text()
    assert " taken for " in page.confusion.matrix_model.tooltip(0, 1)
    # Hovering a class row or a column title explains it (the row's tooltip read fields it does not have).
    tip = page.classes.proxy.index(0, 0).data(Qt.ItemDataRole.ToolTipRole)
    assert tip and "photos right" in tip
    assert "share it got right" in page.classes.table_model.headerData(3, Qt.Orientation.Horizontal,
                                                                       Qt.ItemDataRole.ToolTipRole)
    assert [page.split.itemData(i, Qt.ItemDataRole.ToolTipRole) for i in range(page.split.count())][0]


def test_check_page_reports_a_bad_folder_in_a_dialog(qtbot, trained_run, tmp_path, messages):
    page = make_page(qtbot)
    page.set_model(str(trained_run.best_path))
    (tmp_path / "empty").mkdir()
    page.set_data(str(tmp_path / "empty"))
    page.evaluate()
    qtbot.waitUntil(lambda: not page.is_busy() and bool(messages.shown), timeout=60000)
    assert messages.shown[-1].kind == "error" and "failed" in messages.shown[-1].title.lower()
    assert not page.tabs.isVisible()
