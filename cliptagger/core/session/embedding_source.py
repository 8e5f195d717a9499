"""The session as the searcher's ``EmbeddingSource``: results first, then the cache or tagging."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Sequence

from cliptagger.core.session.searcher import ProgressCallback
from cliptagger.core.tagging.engine import Outcome, TaggingEngine

if TYPE_CHECKING:
    from cliptagger.core.session.facade import Session


class SessionEmbeddings:
    """The session as the searcher's ``EmbeddingSource``: results first, then cache or tagging."""

    def __init__(self, session: "Session", engine: TaggingEngine) -> None:
        self._session, self._engine = session, engine

    def change_count(self) -> int:
        return self._session.photos.changes

    def photo_paths(self) -> list[Path]:
        return self._session.paths()

    def add(self, paths: Sequence[Path]) -> None:
        self._session.add(paths)

    def in_session(self, path: Path) -> bool:
        return path in self._session.photos

    def known(self, paths: Sequence[Path]) -> list[tuple[Path, Any]]:
        photos = self._session.photos
        known = []
        for path in paths:
            if path in photos:
                result = photos.result(path)
                known.append((path, result.embedding if result is not None else None))
        return known

    def failed(self, path: Path) -> bool:
        return bool(self._session.failure(path))

    def tag(self, paths: Sequence[Path], progress: ProgressCallback, cancel: Any) -> Iterable[Outcome]:
        return self._session.tag(paths, progress, cancel)

    def encode_only(self, paths: Sequence[Path]) -> Iterable[Outcome]:
        return self._engine.run(list(paths))

    def cached(self, paths: Sequence[Path]) -> dict[Path, Any]:
        cache, model_id = self._session.cache(), self._session.model_id
        if cache is None or model_id is None:
            return {}
        return dict(cache.lookup(list(paths), model_id))
