"""The search worker: ``Session.search`` off the UI thread, stale requests skipped."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Optional

from PySide6.QtCore import Signal, Slot

from cliptagger.core.tagging.search import SearchQuery, relevant
from cliptagger.gui.workers.guarded import SupersedableWorker

if TYPE_CHECKING:
    from cliptagger.core.session import Session

#: Show at most this many hits: the UI thread must stay quick on a 100,000-photo list
#: (a search is for finding a few).
MAX_SHOWN = 1000


@dataclass
class SearchResult:
    scores: dict[Path, float]     # every searchable photo
    shown: set[Path]              # the ones that stand out (``core.search.relevant``)


@dataclass(frozen=True)
class SearchOutcome:
    generation: int                # which request it answers (older ones are dropped)
    result: Optional[SearchResult]  # None when the search could not run
    error: str = ""


class SearchWorker(SupersedableWorker):
    """Runs ``Session.search`` off the UI thread; skips requests a newer one made stale."""

    finished = Signal(object)  # SearchOutcome

    def __init__(self, session: "Session") -> None:
        super().__init__()
        self.session = session

    @Slot(int, object)
    def search(self, generation: int, query: SearchQuery) -> None:
        if self.is_stale(generation):
            return  # the user typed on: a newer request is queued behind this one
        hits = self.guarded("", lambda: self.session.search(query, encode=False),
                            lambda message: self.finished.emit(SearchOutcome(generation, None, message)))
        if hits is None:
            return
        # The per-photo Python work happens here too, not on the UI thread.
        scores = {hit.path: hit.score for hit in hits}
        cut = relevant(list(scores.values()))
        shown = {hit.path for hit in hits[:MAX_SHOWN] if hit.score >= cut}  # hits come best first
        self.finished.emit(SearchOutcome(generation, SearchResult(scores, shown), ""))
