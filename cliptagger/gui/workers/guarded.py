"""The one place where work on a background thread that fails becomes a message.

Every worker derives from ``GuardedWorker`` and runs its work through ``guarded``: a
``CliptaggerError`` or ``OSError`` becomes "what: reason"; anything else is a bug, whose
traceback goes to stderr and whose repr becomes the message. Nothing escapes the thread (an
exception leaving a Qt slot on a worker thread would be lost, and the UI would wait forever).
"""

from __future__ import annotations

import threading
import traceback
from typing import Callable, Optional, TypeVar

from PySide6.QtCore import QObject

from cliptagger.core.errors import CliptaggerError

T = TypeVar("T")


class GuardedWorker(QObject):
    def guarded(self, what: str, action: Callable[[], T], failed: Callable[[str], object]) -> Optional[T]:
        """``action()``'s result, or None after telling ``failed`` why it could not run
        (``what: reason``; the reason alone when ``what`` is empty)."""
        prefix = f"{what}: " if what else ""
        try:
            return action()
        except (CliptaggerError, OSError) as err:
            failed(f"{prefix}{err}")
        except Exception as err:  # a bug: never let a worker die silently
            traceback.print_exc()
            failed(f"{prefix}unexpected error {err!r}")
        return None


class SupersedableWorker(GuardedWorker):
    """A guarded worker whose requests carry a generation: one older than the newest asked
    for is stale (the user typed on, clicked elsewhere) and is skipped, not worked on."""

    def __init__(self) -> None:
        super().__init__()
        self.latest = 0
        self._lock = threading.Lock()

    def supersede(self, generation: int) -> None:
        """Requests older than ``generation`` are stale (called from the UI thread)."""
        with self._lock:
            self.latest = generation

    def is_stale(self, generation: int) -> bool:
        with self._lock:
            return generation < self.latest
