"""The one place photos are opened: training, validation, prediction and thumbnails.

Every caller gets the same 8-bit RGB picture for the same file, so a model never
sees a photo differently at prediction time than it did in training. Plain
Pillow only (no torch): the GUI uses this before the heavy modules load.
"""
from __future__ import annotations

import os
from collections import Counter
from typing import Iterable, Optional, Tuple

from PIL import Image, ImageOps, UnidentifiedImageError, features


def _heif_reader() -> bool:
    """Lets Pillow read HEIC/HEIF (iPhones' default) when pillow-heif is installed: optional, because
    its binary wheels are GPLv2 (they bundle the x265 encoder), unlike everything else the app uses."""
    try:
        from pillow_heif import register_heif_opener
    except ImportError:
        return False
    register_heif_opener()
    return True


_HEIF = frozenset({".heic", ".heif", ".hif"})
_HEIF_READABLE = _heif_reader()
# .jfif/.jpe: JPEGs as some browsers and old cameras name them. AVIF where this Pillow reads it (11.2+).
IMAGE_EXTENSIONS = frozenset(
    {".jpg", ".jpeg", ".jpe", ".jfif", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff"}
    | ({".avif"} if features.check("avif") else set())
    | (_HEIF if _HEIF_READABLE else set())
)

# Photos the app recognises but cannot read here, with what the user can do about it: a scan names
# them instead of counting them among "non-image entries" (a folder of iPhone photos would otherwise
# look empty for no reason).
_CANNOT_READ = {
    **{ext: "HEIC photo, which Flower Studio cannot read on this computer: export it as JPEG, "
            "or install the pillow-heif package" for ext in _HEIF},
    ".avif": "AVIF photo, which this computer's Pillow cannot read: export it as JPEG, or update Pillow",
    **{ext: "camera RAW file: export it as JPEG from your camera's or photo software"
       for ext in (".cr2", ".cr3", ".nef", ".nrw", ".arw", ".dng", ".orf", ".rw2", ".raf", ".srw", ".pef")},
}

# Every extension a user's photo may have: those read here, and those reported with what to do.
PHOTO_EXTENSIONS = IMAGE_EXTENSIONS | frozenset(_CANNOT_READ)

_SYSTEM_NAMES = frozenset({"__macosx", "thumbs.db", "desktop.ini", "@eadir"})

# Formats whose last bytes are a fixed end marker: a cheap way to catch most
# truncated files without decoding them.
_END_MARKERS = {"JPEG": b"\xff\xd9", "PNG": b"IEND\xaeB`\x82", "GIF": b";"}

Colour = Tuple[int, int, int]

# The largest photo the app decodes, checked from the file header before any pixel is read.
# 64 megapixels covers every camera and phone photo in normal use (61 MP full-frame bodies,
# 50 MP phones) while bounding one decoded photo to ~200 MB of RGB; Pillow's own limit only
# warns up to 179 MP, so a 94 KB PNG could otherwise cost 600 MB per photo per worker.
# Set FLOWERSTUDIO_MAX_PIXELS to change it (e.g. for 100+ MP medium-format scans).
MAX_PIXELS = int(os.environ.get("FLOWERSTUDIO_MAX_PIXELS", 64_000_000))


class ImageLoadError(Exception):
    """A photo that cannot be used; ``reason`` says why in plain words."""

    def __init__(self, path: str | os.PathLike, reason: str) -> None:
        self.path = os.fspath(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


def is_hidden_or_system(name: str) -> bool:
    """True for dot-files/folders and OS clutter (__MACOSX, Thumbs.db, desktop.ini, @eaDir)."""
    return name.startswith(".") or name.lower() in _SYSTEM_NAMES


def is_image_file(path: str | os.PathLike) -> bool:
    """True when the file name ends in one of IMAGE_EXTENSIONS (any case)."""
    return os.path.splitext(os.fspath(path))[1].lower() in IMAGE_EXTENSIONS


def is_photo_file(path: str | os.PathLike) -> bool:
    """True for every photo the user meant to give: readable ones, and those in formats the app
    cannot read here (listed so they are reported as unreadable, with why, not silently left out)."""
    return os.path.splitext(os.fspath(path))[1].lower() in PHOTO_EXTENSIONS


def unreadable_photo(path: str | os.PathLike) -> Optional[str]:
    """Why a photo in a format the app knows but cannot read here is left out, with what to do about
    it; None for readable formats and for files that are not photos."""
    ext = os.path.splitext(os.fspath(path))[1].lower()
    return None if ext in IMAGE_EXTENSIONS else _CANNOT_READ.get(ext)


def reasons_by_count(unreadable: Iterable[tuple[str, str]]) -> list[tuple[str, int]]:
    """(reason, how many photos) for (path, reason) pairs, most shared first: a folder of iPhone photos
    is all "HEIC photo, ...", which says more than a count of unreadable files."""
    return Counter(reason for _, reason in unreadable).most_common()


def too_many_pixels(width: int, height: int) -> Optional[str]:
    """The reason a photo of this size is refused (over MAX_PIXELS), or None."""
    if width * height <= MAX_PIXELS:
        return None
    return (f"image too large: {width} x {height} pixels ({width * height / 1e6:.0f} megapixels; "
            f"the limit is {MAX_PIXELS / 1e6:.0f})")


def _heif_inside(path: str) -> bool:
    """True when the file starts like a HEIC/HEIF photo (an ISO-BMFF 'ftyp' box with a HEIF brand),
    whatever its name: some phones and transfer tools save HEIC photos as .jpg."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(12)
    except OSError:
        return False
    return head[4:8] == b"ftyp" and head[8:12] in (b"heic", b"heix", b"hevc", b"heim", b"heis", b"mif1", b"msf1")


def _reason(exc: BaseException, path: Optional[str] = None) -> str:
    if isinstance(exc, (Image.DecompressionBombError, Image.DecompressionBombWarning)):
        return f"image too large (decompression-bomb limit): {exc}"
    if isinstance(exc, UnidentifiedImageError):
        if path is not None and not _HEIF_READABLE and _heif_inside(path):
            return f"{_CANNOT_READ['.heic']} (it is one, whatever its name says)"
        return "not an image or unsupported format"
    if isinstance(exc, FileNotFoundError):
        return "file not found"
    if isinstance(exc, PermissionError):
        return "permission denied"
    if isinstance(exc, IsADirectoryError):
        return "is a folder, not a file"
    if isinstance(exc, MemoryError):
        return "not enough memory to decode the image"
    detail = str(exc).strip()
    base = "truncated or corrupt image data"
    return f"{base} ({detail})" if detail else base


def _check_not_empty(path: str) -> None:
    try:
        size = os.path.getsize(path)
    except OSError as exc:
        raise ImageLoadError(path, _reason(exc)) from exc
    if size == 0:
        raise ImageLoadError(path, "file is empty (0 bytes)")


def _composite(img: Image.Image, background: Colour) -> Image.Image:
    rgba = img.convert("RGBA")
    out = Image.new("RGB", rgba.size, tuple(background))
    out.paste(rgba, mask=rgba.getchannel("A"))
    return out


def _high_bit_depth_to_l(img: Image.Image) -> Image.Image:
    # Scientific/medical 16-bit greys rarely use the full range; a plain convert
    # would clip everything above 255 to white, so stretch the actual range.
    work = img if img.mode == "F" else img.convert("I")
    lo, hi = work.getextrema()
    if hi > lo:
        scale = 255.0 / (hi - lo)
        offset = -lo * scale
        work = work.point(lambda v: v * scale + offset)
    return work.convert("L")


def _to_rgb(img: Image.Image, background: Colour) -> Image.Image:
    mode = img.mode
    if mode in ("RGBA", "LA", "PA", "RGBa", "La") or (
        mode in ("P", "L", "RGB") and "transparency" in img.info
    ):
        return _composite(img, background)
    if mode.startswith("I") or mode == "F":
        return _high_bit_depth_to_l(img).convert("RGB")
    if mode == "RGB":
        return img
    return img.convert("RGB")


def _open_rgb(path: str, background: Colour, draft_size: Optional[int]) -> Image.Image:
    """Decode fully, orient by EXIF, flatten to 8-bit RGB. Raises ImageLoadError."""
    if (why := unreadable_photo(path)) is not None:
        raise ImageLoadError(path, why)  # Pillow may open a RAW file's tiny preview: never train on that
    _check_not_empty(path)
    try:
        with Image.open(path) as im:
            if (too_big := too_many_pixels(*im.size)) is not None:
                raise ImageLoadError(path, too_big)  # from the header: nothing decoded yet
            if getattr(im, "n_frames", 1) > 1:
                im.seek(0)
            if draft_size and im.format == "JPEG":
                # DCT scaling decodes at 1/2..1/8 size: far faster for thumbnails.
                im.draft(im.mode, (draft_size, draft_size))
            im.load()
            try:
                # In place: the default returns a copy even of an upright photo (0.16 ms of ~3 a photo).
                ImageOps.exif_transpose(im, in_place=True)
            except Exception:
                pass  # broken EXIF should not cost the user a usable photo
            # No copy "to detach it from the file": leaving the with block closes the file and keeps the
            # decoded pixels (Pillow 10+), whatever the format; that copy cost another 0.16 ms a photo.
            rgb = _to_rgb(im, background)
    except ImageLoadError:
        raise
    except Exception as exc:
        raise ImageLoadError(path, _reason(exc, path)) from exc
    return rgb


def load_image(
    path: str | os.PathLike, background: Colour = (255, 255, 255), min_side: Optional[int] = None
) -> Image.Image:
    """Open any supported photo as 8-bit RGB, EXIF-oriented, transparency on ``background``.

    ``min_side``: the caller will shrink the photo to this short side anyway, so a large
    JPEG may be decoded at 1/2..1/8 scale, never below it (several times faster for
    camera photos). Raises ImageLoadError (with a human reason) for empty, corrupt,
    truncated, unsupported or oversized files.
    """
    return _open_rgb(os.fspath(path), background, min_side)


def load_thumbnail(
    path: str | os.PathLike, size: int, background: Colour = (255, 255, 255)
) -> Image.Image:
    """Like load_image, shrunk to fit in ``size`` x ``size`` (aspect kept); fast for JPEG."""
    img = _open_rgb(os.fspath(path), background, size)
    img.thumbnail((size, size))
    return img


def probe_image(path: str | os.PathLike) -> Optional[str]:
    """Cheap check without a full decode: None if the file looks usable, else a reason.

    Reads the header (format, size). For JPEG/PNG/GIF it also checks the end
    marker; only files lacking it (truncated, or with appended data such as
    motion photos) are decoded to decide.
    """
    path = os.fspath(path)
    if (why := unreadable_photo(path)) is not None:
        return why
    try:
        _check_not_empty(path)
    except ImageLoadError as exc:
        return exc.reason
    try:
        with open(path, "rb") as fh:
            with Image.open(fh) as im:
                fmt = im.format
                width, height = im.size
            if width <= 0 or height <= 0:
                return "image has no pixels"
            if (too_big := too_many_pixels(width, height)) is not None:
                return too_big
            marker = _END_MARKERS.get(fmt or "")
            if marker is None:
                return None
            fh.seek(0, os.SEEK_END)
            fh.seek(max(0, fh.tell() - 64))
            tail = fh.read().rstrip(b"\x00\r\n\t ")
            if tail.endswith(marker):
                return None
    except Exception as exc:
        return _reason(exc, path)
    try:
        _open_rgb(path, (255, 255, 255), 64)
    except ImageLoadError as exc:
        return exc.reason
    return None
