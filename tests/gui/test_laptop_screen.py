"""Every page fits a 1366x768 laptop screen (window frame and task bar included) without scrolling sideways."""
import pytest

from flowerstudio.gui.state import Page

SCREEN_W, SCREEN_H = 1366, 768
FRAME_H = 70  # title bar and task bar


@pytest.mark.parametrize("advanced_open", [False, True])
def test_pages_fit_1366x768(qtbot, window, tiny_dataset, advanced_open):
    with qtbot.waitSignal(window.state.scan_changed, timeout=60000):
        window.dataset_page.open_folder(str(tiny_dataset))
    window.train_page.options.advanced.toggle.setChecked(advanced_open)
    for page in Page:
        window.go_to(page)
        hint = window.minimumSizeHint()
        assert hint.width() <= SCREEN_W and hint.height() <= SCREEN_H - FRAME_H, (page, hint)
    # The training form scrolls up and down at most, never sideways.
    options = window.train_page.options
    assert options.minimumSizeHint().width() <= options.parentWidget().width() + 2


def views_shown(preview) -> int:
    """Augmented views the preview shows (tiles with a picture)."""
    return sum(1 for t in preview.tiles if t.pixmap() is not None and not t.pixmap().isNull())


def test_augmentation_preview_shows_all_columns_at_1366(qtbot, window, tiny_dataset):
    window.resize(SCREEN_W - 20, SCREEN_H - FRAME_H)
    with qtbot.waitSignal(window.state.scan_changed, timeout=60000):
        window.dataset_page.open_folder(str(tiny_dataset))
    window.show_augment_preview()
    preview = window.dataset_page.preview
    qtbot.waitUntil(lambda: views_shown(preview) == 8, timeout=60000)
    right_edge = max(t.mapTo(preview, t.rect().topRight()).x() for t in preview.tiles)
    assert right_edge <= preview.width(), (right_edge, preview.width())


def test_a_short_message_is_wide_enough_for_its_title(qtbot):
    from flowerstudio.gui import messages

    box = messages._box(None, messages.QMessageBox.Icon.Information, "Sort undone in Flower Studio", "Done.")
    qtbot.addWidget(box)
    box.show()
    title = box.fontMetrics().horizontalAdvance(box.windowTitle())
    assert box.width() >= title + messages.TITLE_BAR_EXTRA  # the title is never cut ("Sort und…r Studio")
