"""Review decisions: which proposed tags the user accepted or rejected, per photo.

A decision belongs to a (label set, keyword) pair, not to a bare keyword: the same label in
two sets ("red" under Colour and under Mood) is two decisions. Decisions are never thrown
away when label sets change; a decision whose pair no longer exists is simply not in force
(and comes back if the label does). Thread-safe: the GUI decides on its UI thread while a
worker thread tags and writes.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Iterable, Mapping, Optional


class Decision(str, Enum):
    ACCEPTED = "accepted"
    REJECTED = "rejected"


@dataclass(frozen=True, order=True)
class TagKey:
    """One label of one label set: what a decision is about."""

    label_set: str
    keyword: str   # ``A|B|leaf`` form

    def __str__(self) -> str:
        return f"{self.label_set}: {self.keyword}"


class ReviewState:
    """Decisions per photo; a missing entry means "not decided yet" (pending)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._decisions: dict[Path, dict[TagKey, Decision]] = {}

    def set(self, path: Path, keys: Iterable[TagKey], decision: Optional[Decision]) -> int:
        """Decide (or, with None, un-decide) ``keys`` for one photo; returns how many changed."""
        changed = 0
        with self._lock:
            current = self._decisions.setdefault(Path(path), {})
            for key in keys:
                before = current.get(key)
                if decision is None:
                    current.pop(key, None)
                else:
                    current[key] = decision
                changed += before != decision
            if not current:
                del self._decisions[Path(path)]
        return changed

    def get(self, path: Path) -> dict[TagKey, Decision]:
        with self._lock:
            return dict(self._decisions.get(Path(path), {}))

    def all(self) -> Mapping[Path, dict[TagKey, Decision]]:
        with self._lock:
            return {path: dict(decisions) for path, decisions in self._decisions.items()}

    def forget(self, paths: Iterable[Path]) -> None:
        with self._lock:
            for path in paths:
                self._decisions.pop(Path(path), None)

    def clear(self) -> None:
        with self._lock:
            self._decisions.clear()

    def count(self) -> int:
        with self._lock:
            return sum(len(d) for d in self._decisions.values())
