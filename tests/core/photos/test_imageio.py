"""load_image / load_thumbnail / probe_image on real files of every awkward kind."""
from __future__ import annotations

import os
import struct
import sys
import zlib

import numpy as np
import pytest
from PIL import Image

from flowerstudio.core.photos.imageio import (
    IMAGE_EXTENSIONS,
    ImageLoadError,
    is_hidden_or_system,
    is_image_file,
    load_image,
    load_thumbnail,
    probe_image,
)
from imagefactory import jpeg_bytes, write_broken_files


def _exif_jpeg(path, size=(60, 30), orientation=6):
    img = Image.new("RGB", size, (200, 30, 30))
    img.paste((30, 30, 200), (0, 0, size[0] // 2, size[1]))  # left half blue
    exif = Image.Exif()
    exif[0x0112] = orientation
    img.save(path, "JPEG", exif=exif.tobytes())
    return path


def test_exif_orientation_swaps_dimensions(tmp_path):
    img = load_image(_exif_jpeg(tmp_path / "rot.jpg"))
    assert img.mode == "RGB"
    assert img.size == (30, 60)
    # Orientation 6 = rotate 90° clockwise to display: the blue left half ends on top.
    assert img.getpixel((15, 5))[2] > 150
    assert img.getpixel((15, 55))[0] > 150


def test_rgba_transparent_pixel_becomes_background(tmp_path):
    img = Image.new("RGBA", (4, 2), (255, 0, 0, 0))
    img.putpixel((1, 0), (0, 0, 255, 255))
    img.save(tmp_path / "a.png")
    out = load_image(tmp_path / "a.png")
    assert out.mode == "RGB"
    assert out.getpixel((0, 0)) == (255, 255, 255)
    assert out.getpixel((1, 0)) == (0, 0, 255)
    assert load_image(tmp_path / "a.png", background=(0, 0, 0)).getpixel((0, 0)) == (0, 0, 0)


def test_la_image_composited(tmp_path):
    img = Image.new("LA", (3, 3), (0, 0))
    img.save(tmp_path / "la.png")
    assert load_image(tmp_path / "la.png").getpixel((1, 1)) == (255, 255, 255)


@pytest.mark.parametrize("ext", ["png", "gif"])
def test_palette_with_transparency(tmp_path, ext):
    img = Image.new("P", (4, 4), 0)
    img.putpalette([10, 200, 10] + [200, 10, 10] + [0, 0, 0] * 254)
    img.putpixel((2, 2), 1)
    path = tmp_path / f"p.{ext}"
    img.save(path, transparency=0)
    out = load_image(path)
    assert out.mode == "RGB"
    assert out.getpixel((0, 0)) == (255, 255, 255)
    assert out.getpixel((2, 2)) == (200, 10, 10)


def test_16bit_grayscale_rescaled_not_clipped(tmp_path):
    values = np.linspace(0, 4000, 64 * 16).reshape(16, 64).astype(np.uint16)
    Image.fromarray(values).save(tmp_path / "deep.png")
    assert Image.open(tmp_path / "deep.png").mode.startswith("I")
    out = np.asarray(load_image(tmp_path / "deep.png"))
    assert out.min() == 0 and out.max() == 255
    assert 100 < out[8, 32, 0] < 160  # the middle value lands mid-grey, not white
    assert (out == 255).mean() < 0.05


def test_cmyk_jpeg(tmp_path):
    Image.new("CMYK", (20, 20), (0, 255, 255, 0)).save(tmp_path / "cmyk.jpg")
    out = load_image(tmp_path / "cmyk.jpg")
    assert out.mode == "RGB"
    r, g, b = out.getpixel((10, 10))
    assert r > 200 and g < 60 and b < 60


@pytest.mark.parametrize("mode", ["1", "L"])
def test_bilevel_and_grey(tmp_path, mode):
    Image.new(mode, (5, 5), 1 if mode == "1" else 128).save(tmp_path / f"{mode}.png")
    out = load_image(tmp_path / f"{mode}.png")
    assert out.mode == "RGB" and out.size == (5, 5)


def test_animated_gif_first_frame(tmp_path):
    frames = [Image.new("RGB", (8, 8), c) for c in ((250, 0, 0), (0, 0, 250))]
    frames[0].save(tmp_path / "anim.gif", save_all=True, append_images=frames[1:], duration=50)
    out = load_image(tmp_path / "anim.gif")
    r, g, b = out.getpixel((4, 4))
    assert r > 200 and b < 50


def test_broken_files_raise_with_path_and_reason(tmp_path):
    empty, truncated, text = write_broken_files(tmp_path)
    expected = {empty: "empty", truncated: "truncated or corrupt", text: "not an image"}
    for path, reason in expected.items():
        with pytest.raises(ImageLoadError) as info:
            load_image(path)
        assert info.value.path == str(path)
        assert reason in info.value.reason
        assert str(info.value).startswith(f"{path}: ")
        assert reason in (probe_image(path) or "")
    with pytest.raises(ImageLoadError, match="not found"):
        load_image(tmp_path / "missing.jpg")


def _png_header_only(path, width, height):
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IEND", b""))


def test_decompression_bomb_is_a_load_error(tmp_path):
    limit = Image.MAX_IMAGE_PIXELS
    bomb = tmp_path / "bomb.png"
    _png_header_only(bomb, 40000, 40000)
    with pytest.raises(ImageLoadError, match="decompression-bomb"):
        load_image(bomb)
    assert "decompression-bomb" in probe_image(bomb)
    assert Image.MAX_IMAGE_PIXELS == limit


def test_thumbnail_fits_and_keeps_aspect(tmp_path):
    Image.new("RGB", (400, 300), (0, 128, 0)).save(tmp_path / "big.jpg")
    thumb = load_thumbnail(tmp_path / "big.jpg", 64)
    assert thumb.mode == "RGB" and thumb.size == (64, 48)
    rot = load_thumbnail(_exif_jpeg(tmp_path / "rot.jpg", size=(400, 200)), 50)
    assert rot.size == (25, 50)
    Image.new("RGBA", (10, 40), (0, 0, 0, 0)).save(tmp_path / "t.png")
    small = load_thumbnail(tmp_path / "t.png", 64)
    assert small.size == (10, 40) and small.getpixel((5, 5)) == (255, 255, 255)


def test_probe_good_files_and_appended_data(tmp_path):
    good = tmp_path / "good.jpg"
    good.write_bytes(jpeg_bytes())
    assert probe_image(good) is None
    # Motion photos append a video after the JPEG end marker; still a usable photo.
    motion = tmp_path / "motion.jpg"
    motion.write_bytes(jpeg_bytes() + b"ftypmp42" + bytes(range(256)) * 8)
    assert probe_image(motion) is None
    Image.new("RGB", (9, 9)).save(tmp_path / "x.png")
    assert probe_image(tmp_path / "x.png") is None


def test_name_filters():
    assert is_image_file("a/B.JPG") and is_image_file("x.TiFf") and is_image_file("y.webp")
    assert not is_image_file("notes.txt") and not is_image_file("jpg")
    assert ".jpeg" in IMAGE_EXTENSIONS
    for name in (".git", ".ipynb_checkpoints", "._x.jpg", ".DS_Store", "__MACOSX",
                 "Thumbs.db", "THUMBS.DB", "desktop.ini", "Desktop.INI", "@eaDir"):
        assert is_hidden_or_system(name), name
    assert not is_hidden_or_system("daisy") and not is_hidden_or_system("photo.jpg")


def test_no_torch_import():
    import subprocess

    code = (
        "import sys, flowerstudio.core.photos.imageio, flowerstudio.core.photos.scan;"
        "bad = [m for m in ('torch', 'PySide6', 'pyqtgraph') if m in sys.modules];"
        "sys.exit(1 if bad else 0)"
    )
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


def test_min_side_decodes_big_jpegs_smaller_but_never_below_it(tmp_path):
    from PIL import Image

    from flowerstudio.core.photos.imageio import load_image

    path = tmp_path / "big.jpg"
    Image.new("RGB", (2000, 1500), (120, 30, 200)).save(path, quality=90)
    full = load_image(path)
    small = load_image(path, min_side=256)
    assert full.size == (2000, 1500)
    assert min(small.size) >= 256 and small.size[0] < 1000  # decoded at 1/4 scale
    assert small.getpixel((10, 10))[2] > 150


def _open_files() -> int:
    return len(os.listdir("/proc/self/fd"))


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="counts open files through Linux's /proc")
@pytest.mark.parametrize("kind", ["jpeg", "multi-frame gif", "multi-page tiff", "two-image mpo", "rotated jpeg"])
def test_a_loaded_photo_keeps_no_file_open(tmp_path, kind):
    """A photo's pixels are not copied once more after decoding, and its file is closed all the same,
    even for formats that keep theirs open for further frames or pages: a folder of them never runs
    out of file handles. The first frame is the one used, upright."""
    path = tmp_path / {"jpeg": "a.jpg", "multi-frame gif": "a.gif", "multi-page tiff": "a.tif",
                       "two-image mpo": "a.jpg", "rotated jpeg": "r.jpg"}[kind]
    first, second = Image.new("RGB", (40, 30), (250, 10, 10)), Image.new("RGB", (40, 30), (10, 10, 250))
    if kind == "rotated jpeg":
        _exif_jpeg(path, size=(40, 30))
    elif kind == "jpeg":
        first.save(path, quality=95)
    else:
        first.save(path, format="MPO" if kind == "two-image mpo" else None, save_all=True, append_images=[second])
    before = _open_files()
    images = [load_image(path) for _ in range(5)]
    assert _open_files() == before
    assert all(img.size == ((30, 40) if kind == "rotated jpeg" else (40, 30)) for img in images)
    if kind != "rotated jpeg":
        assert images[0].getpixel((20, 15))[0] > 200  # the first frame, red
