"""A plain-text progress bar for terminals (the GUI has its own widgets)."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Callable, Optional, TextIO

from cliptagger.core.tagging.durations import format_duration

if TYPE_CHECKING:
    from cliptagger.core.tagging.engine import Progress


class ProgressBar:
    def __init__(self, stream: TextIO = sys.stderr, width: int = 28, enabled: Optional[bool] = None) -> None:
        self.stream = getattr(stream, "unescaped", stream)  # its own \r and erase-line must pass
        self.width = width
        self.enabled = stream.isatty() if enabled is None else enabled
        self._shown = False

    def update(self, done: int, total: int, rate: float, eta: Optional[float], failed: int = 0) -> None:
        if not self.enabled:
            return
        filled = int(self.width * done / total) if total else self.width
        bar = "#" * filled + "-" * (self.width - filled)
        errors = f"  {failed} skipped" if failed else ""
        self.stream.write(f"\r[{bar}] {done}/{total}  {rate:5.1f} img/s  ETA {format_duration(eta)}{errors} ")
        self.stream.flush()
        self._shown = True

    def callback(self) -> "Callable[[Progress], None]":
        """The ``progress`` argument of the session's long verbs: this bar, updated."""
        return lambda p: self.update(p.done, p.total, p.images_per_s, p.eta_s, p.failed)

    def clear(self) -> None:
        """Wipe the bar so that a line of output can be printed in its place."""
        if self._shown:
            self.stream.write("\r\033[K")
            self.stream.flush()
            self._shown = False

    def close(self) -> None:
        if self._shown:
            self.stream.write("\n")
            self.stream.flush()
            self._shown = False
