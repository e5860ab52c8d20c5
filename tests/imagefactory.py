"""Tiny, learnable photo datasets drawn with PIL for tests (real files, fast).

Class k gets its own dominant colour and shape, with a little per-image jitter,
so even a small model can tell the classes apart.

Import from tests as ``from imagefactory import make_dataset, write_broken_files``.
"""
from __future__ import annotations

import colorsys
import io
import json
import random
from pathlib import Path
from typing import Iterable, Optional

from PIL import Image, ImageDraw

_BASE_COLOURS = [
    (220, 40, 40), (40, 180, 60), (50, 80, 220), (230, 210, 40),
    (200, 60, 200), (40, 200, 210), (240, 140, 30), (120, 60, 20),
]
_SHAPES = ("ellipse", "rectangle", "triangle")


def class_colour(k: int) -> tuple[int, int, int]:
    """The dominant colour of class k (distinct for many classes)."""
    if k < len(_BASE_COLOURS):
        return _BASE_COLOURS[k]
    r, g, b = colorsys.hsv_to_rgb((k * 0.618034) % 1.0, 0.85, 0.9)
    return int(r * 255), int(g * 255), int(b * 255)


def draw_image(k: int, i: int, size=(48, 40), clutter: int = 0) -> Image.Image:
    """Image number i of class k: a coloured shape on a dark, slightly noisy background.

    ``clutter`` small shapes of random colours behind it give each image detail of its own, so two
    images of a class differ as two photos do (in features and in pixels), not only by jitter.
    """
    rng = random.Random(f"{k}:{i}")
    w, h = size
    bg = tuple(rng.randint(20, 50) for _ in range(3))
    img = Image.new("RGB", size, bg)
    d = ImageDraw.Draw(img)
    extra = random.Random(f"clutter:{k}:{i}")
    for _ in range(clutter):
        x, y, r = extra.randrange(w), extra.randrange(h), extra.randint(w // 16 + 1, w // 5 + 1)
        fill = tuple(extra.randint(0, 255) for _ in range(3))
        (d.ellipse if extra.random() < 0.5 else d.rectangle)((x - r, y - r, x + r, y + r), fill=fill)
    colour = tuple(min(255, max(0, c + rng.randint(-15, 15))) for c in class_colour(k))
    dx, dy = rng.randint(-w // 10, w // 10), rng.randint(-h // 10, h // 10)
    box = (w // 5 + dx, h // 5 + dy, w * 4 // 5 + dx, h * 4 // 5 + dy)
    shape = _SHAPES[k % len(_SHAPES)]
    if shape == "ellipse":
        d.ellipse(box, fill=colour)
    elif shape == "rectangle":
        d.rectangle(box, fill=colour)
    else:
        x0, y0, x1, y1 = box
        d.polygon([((x0 + x1) // 2, y0), (x1, y1), (x0, y1)], fill=colour)
    return img


def _write_class(folder: Path, k: int, count: int, start: int, size, clutter: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(start, start + count):
        draw_image(k, i, size, clutter).save(folder / f"img_{i:03d}.jpg", quality=90)


def make_dataset(
    root,
    classes: Iterable[str] = ("daisy", "rose"),
    per_class: int = 6,
    layout: str = "split",
    size=(48, 40),
    with_test: bool = False,
    names: Optional[dict] = None,
    clutter: int = 0,
) -> Path:
    """Write a small dataset under ``root`` and return root as a Path.

    layout="flat": root/<class>/img_NNN.jpg, ``per_class`` images each.
    layout="split": root/train/<class>/ gets ``per_class`` images, root/valid/<class>/
    (and root/test/<class>/ when ``with_test``) get max(1, per_class // 3) each.
    ``names`` (folder -> display name) is written to root/cat_to_name.json; ``clutter``: see draw_image.
    """
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    classes = list(classes)
    held = max(1, per_class // 3)
    for k, cls in enumerate(classes):
        if layout == "flat":
            _write_class(root / cls, k, per_class, 0, size, clutter)
        elif layout == "split":
            _write_class(root / "train" / cls, k, per_class, 0, size, clutter)
            _write_class(root / "valid" / cls, k, held, per_class, size, clutter)
            if with_test:
                _write_class(root / "test" / cls, k, held, per_class + held, size, clutter)
        else:
            raise ValueError(f"layout must be 'split' or 'flat', not {layout!r}")
    if names is not None:
        (root / "cat_to_name.json").write_text(json.dumps(names), encoding="utf-8")
    return root


def jpeg_bytes(size=(160, 120), seed: int = 0) -> bytes:
    """A noisy JPEG (noise so the entropy-coded data is long enough to truncate)."""
    rng = random.Random(seed)
    img = Image.frombytes("RGB", size, bytes(rng.getrandbits(8) for _ in range(size[0] * size[1] * 3)))
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=90)
    return buf.getvalue()


def write_broken_files(folder) -> list[Path]:
    """Write empty.jpg (0 bytes), truncated.jpg (cut mid-data) and notes.png (text)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    empty, truncated, text = folder / "empty.jpg", folder / "truncated.jpg", folder / "notes.png"
    empty.write_bytes(b"")
    data = jpeg_bytes()
    truncated.write_bytes(data[: len(data) // 2])
    text.write_text("this is not a picture\n", encoding="utf-8")
    return [empty, truncated, text]


def write_huge_png(path, width: int = 10_000, height: int = 10_000) -> Path:
    """A real, valid black PNG of width x height pixels that is tiny on disk (1-bit grey, compressed
    row by row): written without ever holding the picture in memory."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    packer = zlib.compressobj(9)
    row = b"\x00" + bytes((width + 7) // 8)  # filter byte "none", then 8 pixels per byte
    idat = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    path = Path(path)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b""))
    return path
