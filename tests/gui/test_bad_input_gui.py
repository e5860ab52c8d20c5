"""Bad input through the window: odd file names, huge photos, crafted model files, read-only sorting."""
import os

from flowerstudio.gui.state import Page


def test_non_utf8_names_and_huge_photos_show_in_the_dataset_page(qtbot, window, tiny_dataset):
    from PIL import Image

    folder = os.fsencode(tiny_dataset / "train" / "rose")
    odd = os.path.join(folder, b"caf\xe9.jpg")
    Image.new("RGB", (40, 30), (200, 20, 20)).save(os.fsdecode(odd), format="JPEG")
    huge = tiny_dataset / "train" / "rose" / "huge.png"
    Image.new("1", (10_000, 10_000)).save(huge)  # 100 megapixels, a few KB on disk
    page = window.dataset_page
    with qtbot.waitSignal(window.state.scan_changed, timeout=60000):
        page.open_folder(str(tiny_dataset))
    scan = window.state.scan
    reasons = {os.path.basename(p): r for p, r in scan.unreadable}
    assert "megapixels" in reasons["huge.png"]
    page.select_class(scan.display_names.index("Red rose"))
    titles = [page.gallery_model.item(r).title for r in range(page.gallery_model.rowCount())]
    assert "caf\\xe9.jpg" in titles  # readable, and Qt could show it
    odd_path = os.fsdecode(odd)
    qtbot.waitUntil(lambda: window.thumbs.get(odd_path) is not None, timeout=10000)


def test_crafted_model_file_is_refused_with_its_field_named(qtbot, window, tmp_path, messages):
    import json

    from safetensors.torch import save_file
    import torch

    bad = tmp_path / "crafted.safetensors"
    save_file({"w": torch.zeros(1)}, str(bad), metadata={"format": "flowerstudio-model", "format_version": "one",
                                                         "flowerstudio": json.dumps({"classes": "rose"})})
    window.go_to(Page.PREDICT)
    window.predict_page.load_model(str(bad))
    assert messages.shown and messages.shown[-1].title == "Cannot open model"
    assert "crafted.safetensors" in messages.shown[-1].text
    assert window.predict_page.model_path is None


def test_clear_cache_button_empties_the_feature_cache(qtbot, window, tmp_path, monkeypatch):
    from flowerstudio.core.foundation.cachedisk import cache_size_bytes

    root = tmp_path / "cache"
    monkeypatch.setenv("FLOWERSTUDIO_CACHE_DIR", str(root))
    entry = root / ("0123456789abcdef" + "0123")  # a cache folder is named by its key's hash
    entry.mkdir(parents=True)
    (entry / "features.safetensors").write_bytes(b"x" * 2_000_000)
    (root / "notes.txt").write_text("not the cache's")
    assert cache_size_bytes() >= 2_000_000
    row = window.train_page.options.cache
    row.clear_btn.click()
    qtbot.waitUntil(lambda: "cleared 2 MB" in row.label.text(), timeout=10000)
    assert cache_size_bytes() == 0 and (root / "notes.txt").exists()  # only the cache's own folders go
