"""heatmap_image: one call from a model file and a photo to an overlay; models loaded once and kept (two)."""
import os
import shutil
import threading

import pytest
from PIL import Image

from flowerstudio.core.labelling import gradcam
from flowerstudio.core.model.model_file import load_model
from flowerstudio.core.labelling.predict import list_images


@pytest.fixture
def counted_loads(monkeypatch):
    loads = []

    def counting(path, device="cpu"):
        loads.append(os.path.basename(path))
        return load_model(path, device)

    monkeypatch.setattr(gradcam, "load_model", counting)
    monkeypatch.setattr(gradcam, "_models", type(gradcam._models)())
    return loads


def test_overlay_at_the_models_input_size(trained_run, tiny_data, counted_loads):
    photo = list_images([tiny_data / "test"])[0]
    image = gradcam.heatmap_image(trained_run.best_path, photo)
    assert isinstance(image, Image.Image) and image.mode == "RGB" and image.size == (64, 64)
    plain = gradcam.heatmap_image(trained_run.best_path, photo, target=0, alpha=0.0)
    assert plain.size == image.size and plain.tobytes() != image.tobytes()
    assert counted_loads == ["best.safetensors"]  # the second call used the kept model


def test_at_most_two_models_and_a_rewritten_file_reloads(trained_run, tiny_data, tmp_path, counted_loads):
    photo = list_images([tiny_data / "test"])[0]
    files = []
    for name in ("a", "b", "c"):
        files.append(tmp_path / f"{name}.safetensors")
        shutil.copy(trained_run.best_path, files[-1])
    for f in files + [files[2], files[0]]:
        gradcam.heatmap_image(str(f), photo)
    assert counted_loads == ["a.safetensors", "b.safetensors", "c.safetensors", "a.safetensors"]
    assert len(gradcam._models) == 2
    stat = files[0].stat()
    os.utime(files[0], ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))  # retrained in place
    gradcam.heatmap_image(str(files[0]), photo)
    assert counted_loads[-1] == "a.safetensors" and len(counted_loads) == 5


def test_threads_share_one_model(trained_run, tiny_data, counted_loads):
    photos = list_images([tiny_data / "test"])[:4]
    gradcam.heatmap_image(trained_run.best_path, photos[0])
    out, errors = {}, []

    def work(p):
        try:
            out[p] = gradcam.heatmap_image(trained_run.best_path, p)
        except Exception as exc:  # reported below; a thread's exception would be lost
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(p,)) for p in photos]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(out) == 4 and counted_loads == ["best.safetensors"]
    alone = gradcam.heatmap_image(trained_run.best_path, photos[1])
    assert out[photos[1]].tobytes() == alone.tobytes()  # the hook of one call never leaks into another
