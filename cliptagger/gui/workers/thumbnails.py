"""Thumbnails made off the UI thread (a QThreadPool), cached in memory and on disk."""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from pathlib import Path
from typing import Optional

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal
from PySide6.QtGui import QImage, QPixmap

from cliptagger.core.storage import paths


def _cache_file(path: Path, size: int) -> Optional[Path]:
    try:
        stat = path.stat()
    except OSError:
        return None
    key = f"{path}|{stat.st_size}|{stat.st_mtime_ns}|{size}".encode("utf-8", "surrogatepass")
    return paths.cache_dir() / "thumbnails" / f"{hashlib.sha1(key).hexdigest()}.jpg"


def render_thumbnail(path: Path, size: int) -> Optional[QImage]:
    """Decode (draft mode for JPEGs), orient and shrink; cached on disk by content stamp."""
    from cliptagger.core.errors import ImageDecodeError
    from cliptagger.core.media.images import load_rgb
    from cliptagger.core.storage.fileio import atomic_write_bytes

    cached = _cache_file(path, size)
    if cached is not None and cached.exists():
        image = QImage(str(cached))
        if not image.isNull():
            return image
    try:
        picture = load_rgb(path, draft_size=size)
    except ImageDecodeError:
        return None
    picture.thumbnail((size, size))
    data = picture.tobytes("raw", "RGB")
    image = QImage(data, picture.width, picture.height, picture.width * 3, QImage.Format_RGB888).copy()
    if cached is not None:
        try:
            import io

            cached.parent.mkdir(parents=True, exist_ok=True)
            buffer = io.BytesIO()
            picture.save(buffer, "JPEG", quality=85)
            atomic_write_bytes(cached, buffer.getvalue())
        except OSError:
            pass  # a cache that cannot be written is only slower
    return image


class _Signals(QObject):
    ready = Signal(object, int, QImage)   # path, size, image


class _Job(QRunnable):
    def __init__(self, path: Path, size: int, signals: _Signals) -> None:
        super().__init__()
        self.path, self.size, self.signals = path, size, signals

    def run(self) -> None:
        from cliptagger.core.tagging.threads import lower_current_thread_priority

        lower_current_thread_priority()
        image = render_thumbnail(self.path, self.size)
        if image is not None:
            self.signals.ready.emit(self.path, self.size, image)


#: Pixmaps kept in memory, in bytes: a 96 px thumbnail is ~37 KB, so ~5,000 of them; memory
#: stays flat whatever the size of the library (the disk cache keeps the rest).
MEMORY_BUDGET_BYTES = 192 * 1024 * 1024


def pixmap_bytes(pixmap: QPixmap) -> int:
    return max(1, pixmap.width() * pixmap.height() * max(pixmap.depth(), 8) // 8)


class ThumbnailLoader(QObject):
    """Ask with ``request(path, size)``; ``ready(path, size, QPixmap)`` arrives later.

    Pixmaps live in an LRU bounded in bytes. The table asks only for the rows it paints, and
    the newest request runs first, so the rows in view get their thumbnails before the rest.
    """

    ready = Signal(object, int, QPixmap)

    def __init__(self, parent: Optional[QObject] = None, memory_bytes: int = MEMORY_BUDGET_BYTES) -> None:
        super().__init__(parent)
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(2)
        self._signals = _Signals()
        self._signals.ready.connect(self._on_ready)
        self._memory: OrderedDict[tuple[Path, int], QPixmap] = OrderedDict()
        self._memory_budget = memory_bytes
        self.memory_used = 0
        self._pending: set[tuple[Path, int]] = set()
        self._requests = 0

    def cached(self, path: Path, size: int) -> Optional[QPixmap]:
        """The pixmap if it is in memory (no loading is started)."""
        key = (Path(path), size)
        pixmap = self._memory.get(key)
        if pixmap is not None:
            self._memory.move_to_end(key)
        return pixmap

    def request(self, path: Path, size: int) -> Optional[QPixmap]:
        pixmap = self.cached(path, size)
        if pixmap is not None:
            return pixmap
        key = (Path(path), size)
        if key not in self._pending:
            self._pending.add(key)
            self._requests += 1
            # higher runs first: what the user looks at now beats what was asked a page ago
            self.pool.start(_Job(key[0], size, self._signals), self._requests % 2_000_000_000)
        return None

    def forget(self) -> None:
        """Drop every pixmap and every request not started yet (the list was cleared)."""
        self.pool.clear()
        self._pending.clear()
        self._memory.clear()
        self.memory_used = 0

    def _on_ready(self, path: Path, size: int, image: QImage) -> None:
        key = (path, size)
        if key not in self._pending:
            return  # asked before the list was cleared
        self._pending.discard(key)
        pixmap = QPixmap.fromImage(image)  # QPixmap only on the UI thread
        self._memory[key] = pixmap
        self.memory_used += pixmap_bytes(pixmap)
        while self.memory_used > self._memory_budget and len(self._memory) > 1:
            _, dropped = self._memory.popitem(last=False)
            self.memory_used -= pixmap_bytes(dropped)
        self.ready.emit(path, size, pixmap)

    def shutdown(self) -> None:
        self.pool.clear()
        self.pool.waitForDone(5000)
