"""Evaluate page on a real tiny model: table, confusion matrix, cell photos and mistakes."""
import os

from PySide6.QtCore import Qt

from flowerstudio.gui.evaluate_page import EvaluatePage


def test_evaluate_page_shows_table_matrix_cells_and_mistakes(qtbot, trained_run, tiny_data):
    from flowerstudio.core.evaluate import evaluate

    page = EvaluatePage()
    qtbot.addWidget(page)
    page.resize(1200, 800)
    page.show()
    busy = []
    page.busy_changed.connect(busy.append)
    page.set_model(str(trained_run.best_path))
    page.set_data(str(tiny_data))
    with qtbot.waitSignal(page.evaluated, timeout=60000) as blocker:
        page.evaluate()
    qtbot.waitUntil(lambda: not page.is_busy(), timeout=60000)
    assert busy == [True, False]
    report = blocker.args[0].report
    expected = evaluate(trained_run.best_path, tiny_data, device="cpu")
    assert report.confusion == expected.confusion and report.split == "test"

    assert page.classes.proxy.rowCount() == 3
    assert f"{100 * report.accuracy:.1f}%" in page.headline.text()
    cm = page.confusion.model
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
            listed = page.cell_paths()
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
    page.shutdown()


def test_evaluate_page_reports_a_bad_folder_in_a_dialog(qtbot, trained_run, tmp_path):
    from flowerstudio.gui import dialogs

    page = EvaluatePage()
    qtbot.addWidget(page)
    page.set_model(str(trained_run.best_path))
    (tmp_path / "empty").mkdir()
    page.set_data(str(tmp_path / "empty"))
    page.evaluate()
    qtbot.waitUntil(lambda: not page.is_busy() and bool(dialogs.shown), timeout=60000)
    assert "failed" in dialogs.shown[-1].windowTitle().lower()
    assert not page.tabs.isVisible()
    page.shutdown()
