"""Planted problems for the doctor benchmark: a copy of a real dataset (links, never touching the
original) with a share of its photos moved into a wrong class folder and a few resized, re-encoded copies."""
from __future__ import annotations

import os
import random
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image, ImageOps

from flowerstudio.core.photos.imageio import is_image_file


@dataclass
class Planted:
    root: Path
    moved: dict[str, str] = field(default_factory=dict)  # path now (wrong folder) -> the true class
    copies: list[tuple[str, str]] = field(default_factory=list)  # (original, copy)


def plant(src: Path, out: Path, fraction: float = 0.05, copies: int = 20, seed: int = 0) -> Planted:
    """Mirror ``src`` (one folder per class) into ``out`` as symlinks, then plant the problems.

    Moved photos are links in another (random) class folder; copies are real new files: the
    original shrunk to 50-80 % and saved as JPEG at quality 70-85, in the original's folder.
    Paths are the same from run to run (fixed seed), so the feature cache stays warm.
    """
    if out.exists():
        shutil.rmtree(out)
    classes = sorted(d.name for d in src.iterdir() if d.is_dir() and not d.name.startswith("."))
    photos = []
    for cls in classes:
        for dirpath, _, files in os.walk(src / cls):
            for name in sorted(files):
                if is_image_file(name) and not name.startswith("."):
                    rel = Path(dirpath, name).relative_to(src)
                    photos.append(rel)
                    (out / rel).parent.mkdir(parents=True, exist_ok=True)
                    (out / rel).symlink_to(src / rel)
    rng = random.Random(seed)
    planted = Planted(out)
    chosen = rng.sample(sorted(photos), round(len(photos) * fraction) + copies)
    for rel in chosen[copies:]:
        true = rel.parts[0]
        wrong = rng.choice([c for c in classes if c != true])
        dest = out / wrong / f"moved_{rel.name}"
        (out / rel).rename(dest)
        planted.moved[str(dest)] = true
    for rel in chosen[:copies]:
        img = ImageOps.exif_transpose(Image.open(src / rel)).convert("RGB")  # a copy keeps what one sees
        scale = rng.uniform(0.5, 0.8)
        img = img.resize((round(img.width * scale), round(img.height * scale)), Image.Resampling.BILINEAR)
        dest = out / rel.parent / f"copy_{rel.stem}.jpg"
        img.save(dest, "JPEG", quality=rng.randint(70, 85))
        planted.copies.append((str(out / rel), str(dest)))
    return planted
