"""Photos that are too large, or whose names are not UTF-8, never break a scan, a run or a CSV."""
import json
import os
import subprocess
import sys

import pytest
from imagefactory import draw_image, make_dataset, write_huge_png
from tinyrun import run_folders

from flowerstudio.cli import main
from flowerstudio.core.photos import imageio
from flowerstudio.core.photos.scan import scan_dataset
from flowerstudio.core.photos.imageio import ImageLoadError, load_image, load_thumbnail, probe_image

pytestmark = pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")


@pytest.fixture
def huge(tmp_path):
    """A real 100-megapixel PNG of about 12 KB (decoded it would take 300 MB as RGB)."""
    return write_huge_png(tmp_path / "huge.png", 10_000, 10_000)


def test_the_pixel_limit_is_the_apps_own_and_below_100_megapixels():
    assert 10_000_000 <= imageio.MAX_PIXELS < 100_000_000


def test_a_100_megapixel_png_is_refused_everywhere_from_its_header(huge, tmp_path, monkeypatch):
    reason = probe_image(huge)
    assert reason is not None and "10000 x 10000" in reason and "too large" in reason
    for load in (lambda p: load_image(p), lambda p: load_thumbnail(p, 128)):
        with pytest.raises(ImageLoadError) as info:
            load(huge)
        assert info.value.reason == reason
    from flowerstudio.core.runtime.loader import ImageDataset  # what training reads photos with

    assert ImageDataset([str(huge)], [0], transform=lambda im: im)[0][3] == reason

    data = make_dataset(tmp_path / "data", classes=("a", "b"), per_class=3, layout="flat", size=(8, 8))
    os.replace(huge, data / "a" / "huge.png")
    scan = scan_dataset(data)
    assert [(os.path.basename(p), why) for p, why in scan.unreadable] == [("huge.png", reason)]


def test_prediction_lists_a_huge_photo_as_unreadable(trained_run, huge):
    from flowerstudio.core.labelling.predict import Predictor

    result = Predictor(trained_run.best_path, "cpu").predict([str(huge)])
    assert result.predictions == [] and "too large" in result.unreadable[0][1]


def _odd(folder, raw: bytes):
    """A file whose name is the bytes ``raw`` (not valid UTF-8), as Python names it."""
    return os.path.join(os.fsdecode(os.fsencode(folder)), os.fsdecode(raw))


@pytest.mark.skipif(sys.platform in ("win32", "darwin"), reason="the filesystem must accept any bytes")
def test_file_names_that_are_not_utf8_round_trip_through_train_predict_evaluate(tmp_path, monkeypatch):
    monkeypatch.setenv("FLOWERSTUDIO_CACHE_DIR", str(tmp_path / "cache"))
    data = make_dataset(tmp_path / "data", classes=("a", "b"), per_class=5, layout="flat")
    cafe = _odd(data / "a", b"caf\xe9.jpg")
    draw_image(0, 99).save(cafe, "JPEG")
    open(_odd(data / "b", b"bad\xff.jpg"), "wb").close()  # empty: skipped and logged
    runs = tmp_path / "runs"
    argv = ["train", str(data), "--input-size", "64", "--epochs", "1", "--batch-size", "8", "--output", str(runs)]
    assert main(argv) == 0
    (run,) = run_folders(runs)
    split = json.loads((run / "split.json").read_text(encoding="utf-8"))
    assert "a/caf\udce9.jpg" in split["train"] + split["val"]
    assert b"bad\xff.jpg" in (run / "train.log").read_bytes()

    from flowerstudio.core.foundation.events import PhaseStarted
    from flowerstudio.core.training.trainer import train
    from tinyrun import tiny_config

    events = []  # the same photos again: every feature comes from the cache, keyed by the exact name
    train(tiny_config(data, tmp_path / "runs2", epochs=1, cache_views=1), events.append)
    assert [e for e in events if isinstance(e, PhaseStarted) and e.phase == "extract"] == []

    csv_path = tmp_path / "labels.csv"
    assert main(["predict", str(run), str(data), "--csv", str(csv_path)]) == 1  # the empty photo failed: said
    with open(csv_path, encoding="utf-8", errors="surrogateescape", newline="") as fh:
        assert cafe in fh.read()  # the CSV names the very file
    assert main(["evaluate", str(run), str(data), "--split", "all", "--out", str(tmp_path / "rep")]) == 0
    report = json.loads((tmp_path / "rep" / "report.json").read_text(encoding="utf-8"))
    assert [p for p, _ in report["unreadable"]] == [_odd(data / "b", b"bad\xff.jpg")]

    printed = subprocess.run([sys.executable, "-m", "flowerstudio", "predict", str(run), cafe],
                             capture_output=True, timeout=300)
    assert printed.returncode == 0, printed.stderr[-2000:]
    assert b"caf\xe9.jpg\t" in printed.stdout  # printed as its own bytes, like ls
