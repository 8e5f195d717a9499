"""The photos of a session and what tagging found for each: a result or a failure.

``PhotoTable`` owns its state and its lock. The counts the GUI shows after every change
(photos, tagged, failed, pending) are kept as photos and outcomes arrive, so asking for them
costs the same at 20 photos and at 100,000.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Optional

from cliptagger.core.session.decisions import as_path
from cliptagger.core.tagging.engine import ImageFailure, ImageResult, Outcome


@dataclass(frozen=True)
class PhotoCounts:
    photos: int
    tagged: int
    failed: int

    @property
    def pending(self) -> int:
        """Neither tagged nor failed."""
        return self.photos - self.tagged - self.failed


@dataclass
class _Entry:
    result: Optional[ImageResult] = None
    failure: str = ""


class PhotoTable:
    """Photos in the order they were added, each with its latest outcome."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[Path, _Entry] = {}
        self._tagged = 0
        self._failed = 0
        self._changes = 0

    @property
    def changes(self) -> int:
        """Bumped whenever photos or outcomes change (a search re-reads embeddings only then)."""
        with self._lock:
            return self._changes

    def add(self, paths: Iterable[Path]) -> list[Path]:
        """Register photos, keeping order; returns the ones that were new."""
        added = []
        with self._lock:
            for path in paths:
                path = as_path(path)
                if path not in self._entries:
                    self._entries[path] = _Entry()
                    added.append(path)
            self._changes += bool(added)
        return added

    def remove_all(self) -> None:
        with self._lock:
            self._entries.clear()
            self._tagged = self._failed = 0
            self._changes += 1

    def store(self, outcome: Outcome) -> None:
        """The photo's newest outcome replaces its previous one (the photo is added if new)."""
        with self._lock:
            entry = self._entries.setdefault(outcome.path, _Entry())
            self._tagged -= entry.result is not None
            self._failed -= bool(entry.failure)
            if isinstance(outcome, ImageFailure):
                entry.result, entry.failure = None, outcome.reason
            else:
                entry.result, entry.failure = outcome, ""
            self._tagged += entry.result is not None
            self._failed += bool(entry.failure)
            self._changes += 1

    def forget_outcomes(self) -> None:
        """Every photo back to "to tag" (another model: its results mean nothing now)."""
        with self._lock:
            for entry in self._entries.values():
                entry.result, entry.failure = None, ""
            self._tagged = self._failed = 0
            self._changes += 1

    def __contains__(self, path: object) -> bool:
        with self._lock:
            return path in self._entries

    def paths(self) -> list[Path]:
        with self._lock:
            return list(self._entries)

    def pending(self) -> list[Path]:
        with self._lock:
            return [p for p, e in self._entries.items() if e.result is None and not e.failure]

    def result(self, path: Path) -> Optional[ImageResult]:
        with self._lock:
            entry = self._entries.get(as_path(path))
            return entry.result if entry is not None else None

    def results(self) -> list[ImageResult]:
        with self._lock:
            return [e.result for e in self._entries.values() if e.result is not None]

    def failure(self, path: Path) -> str:
        with self._lock:
            entry = self._entries.get(as_path(path))
            return entry.failure if entry is not None else ""

    def failures(self) -> list[tuple[Path, str]]:
        with self._lock:
            return [(p, e.failure) for p, e in self._entries.items() if e.failure]

    def counts(self) -> PhotoCounts:
        with self._lock:
            return PhotoCounts(len(self._entries), self._tagged, self._failed)
