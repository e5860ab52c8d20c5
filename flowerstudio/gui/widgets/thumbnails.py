"""Thumbnails decoded in a thread pool and kept in a small in-memory cache.

Views ask for a thumbnail when they paint a row; only visible rows paint, so
thousands of photos cost only what is on screen. Newest requests are served
first, so after a fast scroll the photos now in view load before the ones
scrolled past. A decoded picture reaches the GUI thread the one way every
background result does (jobs.call_on_gui_thread), not by a signal carrying a
Python object from a pool thread, which can deadlock against the GUI thread.
"""
from __future__ import annotations

import threading
import weakref
from collections import OrderedDict, deque
from typing import Optional

import shiboken6
from PySide6.QtCore import QObject, QRunnable, QSize, Qt, QThreadPool, Signal
from PySide6.QtGui import QColor, QImage, QImageReader, QPainter, QPixmap

from flowerstudio.gui.jobs import call_on_gui_thread

MAX_QUEUE = 400  # requests beyond this were scrolled past long ago


def load_qimage(path: str, size: int) -> QImage:
    """Decode a photo scaled to fit ``size`` (any thread). Null QImage when unreadable."""
    try:
        from flowerstudio.core.photos.imageio import load_thumbnail  # Pillow only, no torch

        img = load_thumbnail(path, size)
        return pil_to_qimage(img)
    except ImportError:
        pass
    except Exception:  # noqa: BLE001 - a broken photo shows as a placeholder
        return QImage()
    reader = QImageReader(path)
    reader.setAutoTransform(True)
    src = reader.size()
    if src.isValid() and (src.width() > size or src.height() > size):
        reader.setScaledSize(src.scaled(size, size, Qt.AspectRatioMode.KeepAspectRatio))
    return reader.read()


def pil_to_qimage(img) -> QImage:
    """A PIL image (any mode) as an independent RGB888 QImage."""
    img = img.convert("RGB")
    data = img.tobytes("raw", "RGB")
    qimg = QImage(data, img.width, img.height, 3 * img.width, QImage.Format.Format_RGB888)
    return qimg.copy()  # detach from ``data``, which Python frees


class _Job(QRunnable):
    def __init__(self, cache: "ThumbnailCache") -> None:
        super().__init__()
        self._cache = cache

    def run(self) -> None:
        cache = weakref.ref(self._cache)  # the window may close (and the cache go) while a photo decodes
        while True:
            path = self._cache._next_request()
            if path is None:
                return
            image = load_qimage(path, self._cache.size)
            call_on_gui_thread(lambda p=path, i=image: _deliver(cache, p, i))


def _deliver(cache: "weakref.ref[ThumbnailCache]", path: str, image: QImage) -> None:
    """On the GUI thread: hand a decoded thumbnail to its cache, if the cache is still there."""
    target = cache()
    if target is not None and shiboken6.isValid(target):
        target._on_loaded(path, image)


class ThumbnailCache(QObject):
    """Loads square-bounded thumbnails of a fixed size in the background.

    ``get(path)`` returns a cached QPixmap or None (and queues a load);
    ``ready(path)`` fires on the GUI thread when a thumbnail arrives.
    """

    ready = Signal(object)  # path

    def __init__(self, size: int = 128, capacity: int = 3000, threads: int = 2,
                 parent: Optional[QObject] = None) -> None:
        super().__init__(parent)
        self.size = size
        self._capacity = capacity
        self._pixmaps: OrderedDict[str, QPixmap] = OrderedDict()
        self._failed: set[str] = set()
        self._queue: deque[str] = deque()
        self._queued: set[str] = set()
        self._lock = threading.Lock()
        self._active = 0
        self._threads = threads
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(threads)
        self.placeholder = _placeholder(size, QColor("#e4e4e4"))
        self.broken = _placeholder(size, QColor("#f3d6d6"))

    def get(self, path: str) -> Optional[QPixmap]:
        pix = self._pixmaps.get(path)
        if pix is not None:
            self._pixmaps.move_to_end(path)
            return pix
        if path in self._failed:
            return self.broken
        self._request(path)
        return None

    def clear_queue(self) -> None:
        """Forget pending requests (e.g. when a view shows another list)."""
        with self._lock:
            self._queue.clear()
            self._queued.clear()

    def shutdown(self, timeout_ms: int = 5000) -> None:
        """Drop pending requests and wait (bounded) for the photos being decoded now."""
        self.clear_queue()
        self._pool.waitForDone(timeout_ms)

    def _request(self, path: str) -> None:
        with self._lock:
            if path in self._queued:
                return
            self._queue.append(path)
            self._queued.add(path)
            while len(self._queue) > MAX_QUEUE:
                self._queued.discard(self._queue.popleft())
            start = self._active < self._threads
            if start:
                self._active += 1
        if start:
            self._pool.start(_Job(self))

    def _next_request(self) -> Optional[str]:
        with self._lock:
            if not self._queue:
                self._active -= 1
                return None
            path = self._queue.pop()  # newest first
            self._queued.discard(path)
            return path

    def _on_loaded(self, path: str, image: QImage) -> None:
        if image.isNull():
            self._failed.add(path)
        else:
            self._pixmaps[path] = QPixmap.fromImage(image)
            while len(self._pixmaps) > self._capacity:
                self._pixmaps.popitem(last=False)
        self.ready.emit(path)


def _placeholder(size: int, color: QColor) -> QPixmap:
    pix = QPixmap(QSize(size, size))
    pix.fill(Qt.GlobalColor.transparent)
    p = QPainter(pix)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    p.setBrush(color)
    p.setPen(Qt.PenStyle.NoPen)
    p.drawRoundedRect(8, 8, size - 16, size - 16, 8, 8)
    p.end()
    return pix
