"""Photo formats from phones and cameras: JPEGs named .jfif/.jpe and AVIF photos are read like any
other; HEIC (iPhones) without pillow-heif and camera RAW files are reported as unreadable with what
to do, never silently left out and never read as a RAW file's tiny preview."""
from __future__ import annotations

import sys
import types

import pytest
from PIL import Image, features

from flowerstudio.core.photos import imageio
from flowerstudio.core.photos.scan import DatasetError, scan_dataset
from flowerstudio.core.photos.imageio import ImageLoadError, load_image, probe_image
from flowerstudio.core.labelling.predict import list_images
from imagefactory import draw_image


def _write(path, fmt: str, k: int = 0, i: int = 0):
    path.parent.mkdir(parents=True, exist_ok=True)
    draw_image(k, i, size=(80, 60)).save(path, fmt)
    return path


def _heic(path):
    """What an iPhone photo starts with (an ISO-BMFF 'ftyp' box, brand heic): Pillow alone cannot read it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + bytes(200))
    return path


@pytest.mark.parametrize("name", ["a.jfif", "b.JPE"])
def test_jpegs_named_jfif_or_jpe_are_photos(tmp_path, name):
    for cls in ("cats", "dogs"):
        for i in range(3):
            _write(tmp_path / cls / f"{i}{name}", "JPEG", k=cls == "dogs", i=i)
    scan = scan_dataset(tmp_path, val_fraction=0.34)
    assert len(scan.train) + len(scan.val) == 6 and not scan.unreadable and not scan.skipped
    assert load_image(tmp_path / "cats" / f"0{name}").size == (80, 60)


@pytest.mark.skipif(not features.check("avif"), reason="this Pillow was built without AVIF")
def test_avif_photos_are_read(tmp_path):
    path = _write(tmp_path / "x.avif", "AVIF")
    assert probe_image(path) is None
    assert load_image(path).size == (80, 60)
    assert list_images([tmp_path]) == [str(path)]


@pytest.mark.skipif(".heic" in imageio.IMAGE_EXTENSIONS, reason="pillow-heif is installed: HEIC is read")
def test_heic_photos_are_reported_with_what_to_do(tmp_path):
    for cls in ("cats", "dogs"):
        for i in range(3):
            _write(tmp_path / cls / f"{i}.jpg", "JPEG", k=cls == "dogs", i=i)
        for i in range(2):
            _heic(tmp_path / cls / f"IMG_{i}.HEIC")
    scan = scan_dataset(tmp_path, val_fraction=0.34)
    assert len(scan.unreadable) == 4 and not scan.skipped
    assert all("HEIC" in why and "JPEG" in why for _, why in scan.unreadable)
    assert "4 unreadable: HEIC photo" in scan.summary()
    assert "Left out: 4 unreadable images\n" in scan.summary()  # no "0 hidden or non-image entries"
    # Labelling a folder lists them too, so the Predict page can say why they were not labelled.
    assert sum(p.endswith(".HEIC") for p in list_images([tmp_path / "cats"])) == 2
    with pytest.raises(ImageLoadError, match="HEIC"):
        load_image(tmp_path / "cats" / "IMG_0.HEIC")


@pytest.mark.skipif(".heic" in imageio.IMAGE_EXTENSIONS, reason="pillow-heif is installed: HEIC is read")
def test_a_class_of_only_heic_photos_names_the_format(tmp_path):
    _write(tmp_path / "cats" / "0.jpg", "JPEG")
    _write(tmp_path / "cats" / "1.jpg", "JPEG")
    _heic(tmp_path / "dogs" / "IMG_1.heic")
    with pytest.raises(DatasetError, match=r"dogs has only unreadable images \(e\.g\. .*IMG_1\.heic: HEIC photo"):
        scan_dataset(tmp_path)


@pytest.mark.parametrize("name", ["DSC_0001.NEF", "IMG_0002.dng"])
def test_camera_raw_files_are_never_read_as_their_tiny_preview(tmp_path, name):
    # RAW files are TIFF inside: Pillow would open one and give its embedded thumbnail.
    path = _write(tmp_path / name, "TIFF")
    assert Image.open(path).size == (80, 60)  # Pillow alone reads it
    assert "camera RAW" in probe_image(path)
    with pytest.raises(ImageLoadError, match="export it as JPEG"):
        load_image(path)
    assert list_images([tmp_path]) == [str(path)]


def test_pillow_heif_when_installed_registers_its_reader(monkeypatch):
    registered = []
    monkeypatch.setitem(sys.modules, "pillow_heif",
                        types.SimpleNamespace(register_heif_opener=lambda: registered.append(True)))
    assert imageio._heif_reader() is True and registered == [True]
    monkeypatch.setitem(sys.modules, "pillow_heif", None)  # not installed: import fails
    assert imageio._heif_reader() is False


@pytest.mark.skipif(".heic" in imageio.IMAGE_EXTENSIONS, reason="pillow-heif is installed: HEIC is read")
def test_a_heic_photo_saved_as_jpg_is_named_for_what_it_is(tmp_path):
    path = _heic(tmp_path / "IMG_0001.jpg")
    assert "HEIC photo" in probe_image(path) and "whatever its name says" in probe_image(path)
    with pytest.raises(ImageLoadError, match="HEIC photo.*export it as JPEG"):
        load_image(path)
    other = tmp_path / "notes.jpg"
    other.write_bytes(b"just some text, not a photo")
    assert probe_image(other) == "not an image or unsupported format"
