"""Write a tiny labelled photo folder for the bundle's smoke test: 3 classes x 12 coloured shapes.

    python packaging/make_smoke_data.py OUT_DIR    (needs Pillow; run with the host's Python)
"""
from __future__ import annotations

import random
import sys
from pathlib import Path

from PIL import Image, ImageDraw

CLASSES = {"red_circle": ((200, 40, 40), "ellipse"), "green_square": ((40, 170, 60), "rectangle"),
           "blue_triangle": ((40, 70, 210), "polygon")}
PER_CLASS = 12


def make(out: Path, per_class: int = PER_CLASS, size: int = 96) -> list[Path]:
    rng = random.Random(0)
    written = []
    for name, (colour, shape) in CLASSES.items():
        folder = out / name
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            background = tuple(rng.randint(200, 255) for _ in range(3))
            img = Image.new("RGB", (size, size), background)
            draw = ImageDraw.Draw(img)
            a, b = rng.randint(8, 28), rng.randint(60, 88)
            fill = tuple(max(0, min(255, c + rng.randint(-30, 30))) for c in colour)
            if shape == "polygon":
                draw.polygon([(a, b), (b, b), ((a + b) // 2, a)], fill=fill)
            else:
                getattr(draw, shape)([a, a, b, b], fill=fill)
            path = folder / f"{name}_{i:02d}.jpg"
            img.save(path, quality=90)
            written.append(path)
    return written


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    print(f"wrote {len(make(Path(sys.argv[1])))} photos to {sys.argv[1]}")
