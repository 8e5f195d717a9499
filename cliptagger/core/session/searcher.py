"""Search over the session's photos: an fp16 index of their embeddings and the query texts.

``Searcher`` owns the index and the prompt cache of the current model. It gets embeddings
only through the ``EmbeddingSource`` the session hands it (the session's results, the cache,
or a tagging run), so it never reaches into the session's other state.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Optional, Protocol, Sequence, TypeAlias

from cliptagger.core.errors import SearchError
from cliptagger.core.tagging.engine import ImageResult, Outcome, Progress, PromptEmbeddingCache
from cliptagger.core.tagging.search import Hit, SearchIndex, SearchQuery, query_vector

if TYPE_CHECKING:
    from cliptagger.core.tagging.engine import TaggingEngine

ProgressCallback = Optional[Callable[[Progress], None]]


#: The rows a search ranks: the index's first N, or (paths, rows) picked from it.
Selection: TypeAlias = "int | tuple[list[Path], Any]"


class EmbeddingSource(Protocol):
    """Where the searcher's embeddings come from (the session implements it)."""

    def change_count(self) -> int: ...
    def photo_paths(self) -> list[Path]: ...
    def add(self, paths: Sequence[Path]) -> None: ...
    def in_session(self, path: Path) -> bool: ...
    def known(self, paths: Sequence[Path]) -> list[tuple[Path, Any]]:
        """(photo, its embedding or None) for the photos in the session."""
    def failed(self, path: Path) -> bool: ...
    def tag(self, paths: Sequence[Path], progress: ProgressCallback, cancel: Any) -> Iterable[Outcome]: ...
    def encode_only(self, paths: Sequence[Path]) -> Iterable[Outcome]:
        """Encode photos outside the session without adding them."""
    def cached(self, paths: Sequence[Path]) -> dict[Path, Any]: ...


@dataclass
class SearchState:
    """The search index of one model and the cache of its query-text embeddings."""

    model_id: str
    index: SearchIndex
    prompts: PromptEmbeddingCache
    #: (photo changes, index version, selection) of the last whole-session search.
    view: Optional[tuple[int, int, Selection]] = None


def whole_or_rows(index: SearchIndex, in_view: list[Path], complete: bool) -> Selection:
    """The index's first rows when they are exactly the photos in view (no rows to pick),
    else the rows of the photos in view."""
    return len(in_view) if complete and len(index) == len(in_view) else index.rows_of(in_view)


class Searcher:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._state: Optional[SearchState] = None

    def state_for(self, engine: "TaggingEngine") -> SearchState:
        """The search index and query-text cache of the engine's model (a new model: new ones)."""
        with self._lock:
            state = self._state
            if state is None or state.model_id != engine.model.model_id:
                state = self._state = SearchState(engine.model.model_id, SearchIndex(),
                                                  PromptEmbeddingCache(engine.model))
            return state

    def search(self, query: SearchQuery, engine: "TaggingEngine", source: EmbeddingSource,
               paths: Optional[Sequence[Path]] = None, progress: ProgressCallback = None,
               cancel: Any = None, encode: bool = True, top: Optional[int] = None,
               min_score: Optional[float] = None) -> list[Hit]:
        """Rank ``paths`` (default: every photo in the session) by ``query``, best first (see
        ``Session.search``)."""
        if query.is_empty:
            raise SearchError("a search needs some text or an example photo")
        state = self.state_for(engine)
        examples = [Path(p) for p in query.like]
        outside = [p for p in examples if p not in state.index and not source.in_session(p)]
        if outside:  # an example from elsewhere: encoded (and cached), not added to the photos
            state.index.put((o.path, o.embedding) for o in source.encode_only(outside) if isinstance(o, ImageResult))
        if paths is None:
            selection = self._whole_view(state, source, progress, cancel, encode)
        else:
            in_view = [p if isinstance(p, Path) else Path(p) for p in paths]
            source.add(in_view)
            complete = self._index(state, source, in_view, progress, cancel, encode)
            # the index holds every photo in view and nothing else: no need to pick rows
            selection = whole_or_rows(state.index, in_view, complete)
        self._index(state, source, [p for p in examples if p not in state.index], None, cancel, encode)
        vector = query_vector(query, state.prompts, {p: state.index.get(p) for p in examples if p in state.index})
        return state.index.search(vector, top=top, min_score=min_score, selection=selection)

    def _whole_view(self, state: SearchState, source: EmbeddingSource, progress: ProgressCallback,
                    cancel: Any, encode: bool) -> Selection:
        """Rows of every photo in the session, re-read only after a change:
        a search as you type costs no per-photo Python work."""
        changes = source.change_count()
        if state.view is not None and state.view[:2] == (changes, state.index.version):
            return state.view[2]
        in_view = source.photo_paths()
        complete = self._index(state, source, in_view, progress, cancel, encode)
        selection = whole_or_rows(state.index, in_view, complete)
        state.view = (changes, state.index.version, selection)
        return selection

    @staticmethod
    def _index(state: SearchState, source: EmbeddingSource, paths: Sequence[Path], progress: ProgressCallback,
               cancel: Any, encode: bool) -> bool:
        """Put the embeddings of ``paths`` that are not in the index yet into it; True when
        every one of them is in the index now."""
        missing = [p for p in paths if p not in state.index]
        if not missing:
            return True
        known = source.known(missing)
        state.index.put((p, e) for p, e in known if e is not None)
        rest = [p for p, e in known if e is None and not source.failed(p)]
        if encode and rest:
            outcomes = list(source.tag(rest, progress, cancel))
            state.index.put((o.path, o.embedding) for o in outcomes if isinstance(o, ImageResult))
        elif rest:
            state.index.put(source.cached(rest).items())
        return all(p in state.index for p in missing)
