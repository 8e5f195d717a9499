"""The session: one place where a tagging job lives, whatever the front end.

The CLI, the GUI's worker threads and the self-test all drive a ``Session`` instead of
wiring model, engine, cache and sidecar writer themselves::

    session = Session(label_sets)                 # photos, results and decisions live here
    session.use_model(load_model(request))        # results survive a reload of the same model
    for outcome in session.tag(paths, progress, cancel): ...
    session.rescore(new_label_sets)               # no image is decoded or encoded again
    session.accept_above_threshold()              # or decide(paths, Decision.ACCEPTED, key)
    session.write(SidecarStyle.EXT)               # accepted tags -> XMP sidecars (journaled)
    session.undo()
    session.export(path, ExportFormat.SCORES)
    session.relearn()                             # heads from the recorded decisions
    session.learn_from_keywords(paths, 5)         # a "My keywords" set from the library's keywords

It is a facade over collaborators that own their state and lock and never call each other:
``PhotoTable`` (photos, results, failures), ``ReviewState`` (decisions), ``Learner``
(examples, learned heads), ``SidecarSync`` (what is on disk, what is unwritten) and
``Searcher``. Every cross-call is made here (``decide`` = decisions + learner.record; a
decision changes what is unwritten through the decisions' change listener). It is Qt-free
and thread-safe: heavy verbs (``use_model``, ``tag``, ``rescore``, ``write``, ``undo``,
``export``, ``relearn``) run on a worker thread; cheap ones (decisions, queries, ``counts``)
may be called from a UI thread while a run is in progress.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator, Optional, Sequence

from cliptagger.core.errors import SessionError
from cliptagger.core.metadata.export import ExportFormat
from cliptagger.core.metadata.sidecars import SidecarStyle, WriteReport
from cliptagger.core.session.decisions import Decision, ReviewState, TagKey, as_path
from cliptagger.core.session.embedding_source import SessionEmbeddings
from cliptagger.core.session.exporting import ExportReport, export_results
from cliptagger.core.session.keyword_learning import MY_KEYWORDS, KeywordLearning, learn_from_keywords
from cliptagger.core.session.learner import Learner
from cliptagger.core.session.options import EngineOptions
from cliptagger.core.session.photos import PhotoTable
from cliptagger.core.session.resume import restore_decisions
from cliptagger.core.session.review_rows import ReviewRow, accepted_keywords, review_rows
from cliptagger.core.session.searcher import Searcher
from cliptagger.core.session.sidecar_sync import SidecarSync
from cliptagger.core.tagging.cache import EmbeddingCache
from cliptagger.core.tagging.engine import ImageFailure, ImageResult, Outcome, Progress, TaggingEngine
from cliptagger.core.tagging.labels import LabelSet
from cliptagger.core.tagging.scoring import label_probability

if TYPE_CHECKING:
    from cliptagger.core.learning.examples import ExampleStore
    from cliptagger.core.learning.head_store import LearnedModel
    from cliptagger.core.metadata.undo import UndoReport
    from cliptagger.core.model.clip import ClipModel
    from cliptagger.core.tagging.cache import EmbeddingCache
    from cliptagger.core.tagging.head_scoring import LabelStats, SetHead
    from cliptagger.core.tagging.search import Hit, SearchQuery

__all__ = ["MY_KEYWORDS", "EngineOptions", "ExportReport", "KeywordLearning", "ReviewRow", "Session",
           "SessionCounts", "SessionError"]

ProgressCallback = Optional[Callable[[Progress], None]]


@dataclass(frozen=True)
class SessionCounts:
    """What the status bar and the actions need, kept as photos change (O(1) to read)."""

    photos: int
    tagged: int
    failed: int
    pending: int
    unwritten: int
    decisions: int


class Session:
    def __init__(self, label_sets: Sequence[LabelSet], options: Optional[EngineOptions] = None,
                 cache: "Optional[EmbeddingCache]" = None) -> None:
        self.options = options or EngineOptions()
        self._lock = threading.RLock()
        self._label_sets = list(label_sets)
        self._cache = cache
        self._warnings_given: set[str] = set()
        self.model: "Optional[ClipModel]" = None
        self.engine: Optional[TaggingEngine] = None
        self.photos = PhotoTable()
        self.review = ReviewState()
        self.learner = Learner(self.options)
        self.sidecars = SidecarSync()
        self.searcher = Searcher()
        self.review.on_change(self._refresh_accepted)  # what is unwritten follows every decision

    # ------------------------------------------------------------------ model and labels

    @property
    def label_sets(self) -> list[LabelSet]:
        with self._lock:
            return list(self._label_sets)

    @property
    def model_id(self) -> Optional[str]:
        return self.model.model_id if self.model is not None else None

    @property
    def learned(self) -> "Optional[LearnedModel]":
        return self.learner.learned

    @property
    def learn_warnings(self) -> list[str]:
        return self.learner.warnings

    def cache(self) -> "Optional[EmbeddingCache]":  # opened on first use, off the UI thread
        if self._cache is None and self.options.use_cache:

            self._cache = EmbeddingCache(self.options.cache_path)
        return self._cache

    def take_warnings(self) -> list[str]:
        """Warnings not handed out yet (the cache turned off, heads unreadable, ...): shown once."""
        with self._lock:
            warnings = ((self._cache.warnings if self._cache is not None else []) + self.learner.warnings
                        + self.learner.store_warnings())
            fresh = [w for w in dict.fromkeys(warnings) if w not in self._warnings_given]
            self._warnings_given.update(fresh)
        return fresh

    def would_discard_results(self, model_id: Optional[str]) -> bool:  # a different model's results
        return self.photos.counts().tagged > 0 and model_id != self.model_id

    def use_model(self, model: "ClipModel") -> bool:
        """Tag with ``model`` from now on. Results and decisions are kept when it is the same
        model (another device, a reload); returns False when earlier results were dropped."""
        kept = self.model is not None and model.model_id == self.model.model_id
        engine = TaggingEngine(model, self.label_sets, batch_size=self.options.batch_size,
                               fast_decode=self.options.fast_decode, cache=self.cache(),
                               background_priority=self.options.background_priority)
        if not kept:
            self.photos.forget_outcomes()
            self.review.clear()
        with self._lock:
            self.model, self.engine = model, engine
        self.learner.load(model.model_id)
        engine.heads = self.learner.heads_in_force()
        engine.set_label_sets(self.learner.sets_to_score(self.label_sets))
        if kept:
            self.rescore(self.label_sets)  # same embeddings, the new engine's prototypes
        return kept

    def rescore(self, label_sets: Sequence[LabelSet]) -> list[ImageResult]:
        """New label sets: every tagged photo is re-scored from its embedding (no image work)."""
        with self._lock:
            self._label_sets = list(label_sets)
            engine = self.engine
        if engine is None:
            return []
        engine.heads = self.learner.heads_in_force()
        engine.set_label_sets(self.learner.sets_to_score(self.label_sets))
        results = [r for r in self.photos.results() if r.embedding is not None]  # synthetic ones have none
        for result, scores in zip(results, engine.score_results(results)):
            result.scores = scores
        self._refresh_accepted(r.path for r in results)
        return results

    # ------------------------------------------------------------------ photos and tagging

    def add(self, paths: Iterable[Path]) -> list[Path]:  # in order; returns the new ones
        return self.photos.add(paths)

    def remove_all(self) -> None:  # the list was cleared
        self.photos.remove_all()
        self.review.clear(notify=False)
        self.sidecars.forget_all()

    def paths(self) -> list[Path]:
        return self.photos.paths()

    def pending(self) -> list[Path]:  # neither tagged nor failed
        return self.photos.pending()

    def result(self, path: Path) -> Optional[ImageResult]:
        return self.photos.result(path)

    def results(self) -> list[ImageResult]:
        return self.photos.results()

    def failure(self, path: Path) -> str:
        return self.photos.failure(path)

    def failures(self) -> list[tuple[Path, str]]:
        return self.photos.failures()

    def counts(self) -> SessionCounts:
        photos = self.photos.counts()
        return SessionCounts(photos.photos, photos.tagged, photos.failed, photos.pending,
                             self.sidecars.unwritten_count(), self.review.count())

    def tag(self, paths: Optional[Sequence[Path]] = None, progress: ProgressCallback = None,
            cancel: Optional[threading.Event] = None) -> Iterator[Outcome]:
        """Tag ``paths`` (default: every pending photo), yielding each outcome as it is stored;
        cached embeddings are reused, cancelling takes effect between batches."""
        engine = self.engine
        if engine is None:
            raise SessionError("no model is loaded yet")
        todo = list(self.pending() if paths is None else paths)
        self.add(todo)
        restore = self.options.restore_decisions and self.options.record_examples
        for outcome in engine.run(todo, on_progress=progress, cancel=cancel):
            self.photos.store(outcome)
            if not isinstance(outcome, ImageFailure):
                if restore:
                    restore_decisions(self, outcome.path)
                self._refresh_accepted([outcome.path])
            yield outcome

    # ------------------------------------------------------------------ review

    def review_rows(self, path: Path) -> list[ReviewRow]:
        """The photo's proposals, then any label decided but no longer proposed (``review_rows``)."""
        result = self.result(path)
        if result is None:
            return []
        return review_rows(result, self.review.get(path), self.learner.thresholds_with_sources)

    def proposed_keys(self, path: Path) -> list[TagKey]:
        return [row.key for row in self.review_rows(path) if row.proposed]

    def accepted_keywords(self, path: Path) -> list[str]:
        """Keywords accepted in any current label set (once each, in label set order)."""
        if not self.review.has_any(path):
            return []
        return accepted_keywords(self.review_rows(path))

    def _refresh_accepted(self, paths: Iterable[Path]) -> None:
        self.sidecars.note_accepted({as_path(p): self.accepted_keywords(p) for p in paths})

    def decide(self, paths: Iterable[Path], decision: Optional[Decision], key: Optional[TagKey] = None) -> int:
        """Accept or reject (None: un-decide) one tag, or every proposal, of each photo."""
        changed, decided = 0, []
        for path in paths:
            keys = [key] if key is not None else self.proposed_keys(path)
            changed += self.review.set(path, keys, decision)
            decided.append((as_path(path), keys))
        self._record(decided, decision)
        return changed

    def accept_above_threshold(self, paths: Optional[Iterable[Path]] = None, record: bool = True) -> int:
        """Accept every proposal that is still pending; an explicit rejection stays a rejection.
        ``record``: also keep them as examples to learn from (the user's decision)."""
        changed, decided = 0, []
        for path in (self.paths() if paths is None else paths):
            pending = [row.key for row in self.review_rows(path) if row.proposed and row.decision is None]
            changed += self.review.set(path, pending, Decision.ACCEPTED)
            decided.append((as_path(path), pending))
        if record:
            self._record(decided, Decision.ACCEPTED)
        return changed

    def unwritten(self) -> list[Path]:  # accepted tags differ from what was last written; in order
        changed = self.sidecars.unwritten()
        return [p for p in self.paths() if p in changed] if changed else []

    def is_written(self, path: Path) -> bool:  # by this session, and unchanged since
        return self.sidecars.is_written(as_path(path))

    # ------------------------------------------------------------------ learning

    def examples(self) -> "ExampleStore":  # in the data folder, opened on first use
        return self.learner.examples()

    def _record(self, decided: list[tuple[Path, list[TagKey]]], decision: Optional[Decision]) -> None:
        if self.model_id is not None:
            self.learner.record_decisions(decided, decision, self.photos.result, self.model_id)

    def relearn(self, target_precision: Optional[float] = None, changed_only: bool = False) -> "dict[str, SetHead]":
        """Train every label set's head from the recorded examples of the current model, store
        the heads (per model id) and re-score every tagged photo from its embedding.
        ``changed_only``: retrain only the sets decided on since (the app, after a tick)."""
        model, engine = self.model, self.engine
        if model is None or engine is None:
            raise SessionError("no model is loaded yet")
        self.learner.prepare(model.model_id, target_precision)
        if self.options.use_learned:
            engine.set_label_sets(self.learner.sets_to_score(self.label_sets))
        else:  # a zero-shot run: the learned sets are not in the engine
            engine.set_label_sets(self.learner.all_sets(self.label_sets))
        heads = self.learner.train(model.model_id, engine.prototypes(), model.logit_scale, changed_only)
        self.rescore(self.label_sets)
        return heads

    def label_stats(self, key: TagKey) -> "Optional[LabelStats]":  # None: no examples, zero-shot
        return self.learner.label_stats(key)

    def zero_shot_probability(self, path: Path, key: TagKey) -> Optional[float]:
        """The label's zero-shot probability for the photo (to show next to the learned one)."""
        result, engine, model = self.result(path), self.engine, self.model
        if result is None or engine is None or model is None:
            return None
        return label_probability(result.embedding, engine.prototypes(), model.logit_scale, key.label_set, key.keyword)

    def import_learned_heads(self, blocks: "dict[str, dict[str, Any]]", renamed: dict[str, str]) -> list[str]:
        return self.learner.import_heads(self.model_id, blocks, renamed) if self.model_id else []

    def forget_examples(self, label_set: str, keyword: Optional[str] = None) -> int:
        """Forget a label's examples (every label of the set when ``keyword`` is None) for
        the current model, then learn again. Returns how many examples went."""
        model_id = self.model_id
        if model_id is None:
            raise SessionError("no model is loaded yet")
        removed = self.learner.forget(label_set, keyword, model_id)
        self.relearn()
        return removed

    def learn_from_keywords(self, paths: Sequence[Path], min_examples: int = 5, progress: ProgressCallback = None,
                            cancel: Optional[threading.Event] = None, add: bool = True) -> KeywordLearning:
        """A learned set "My keywords" from the keywords already in these photos
        (``keyword_learning.learn_from_keywords``: tags, reads, counts, records, learns)."""
        if self.model_id is None or self.engine is None:
            raise SessionError("no model is loaded yet")
        return learn_from_keywords(self, [Path(p) for p in paths], min_examples, progress, cancel, add)

    # ------------------------------------------------------------------ sidecars and export

    def write(self, style: SidecarStyle = SidecarStyle.EXT, dry_run: bool = False,
              description: str = "cliptagger", paths: Optional[Iterable[Path]] = None) -> WriteReport:
        """Write the accepted tags of every photo with unwritten changes (or of ``paths``).

        A photo whose tags were written before and are now all rejected gets an empty list,
        which takes cliptagger's earlier tags out of its sidecar (the user's stay).
        """
        targets = self.unwritten() if paths is None else [Path(p) for p in paths]
        assignments = {path: self.accepted_keywords(path) for path in targets}
        return self.sidecars.write(assignments, style, dry_run, description)

    def undo(self, force: bool = False) -> "UndoReport":  # the photos it touched count as unwritten
        return self.sidecars.undo(self.paths(), force)

    can_undo = staticmethod(SidecarSync.can_undo)

    def known_existing_keywords(self, path: Path) -> Optional[list[str]]:  # None: not read yet; no disk I/O
        return self.sidecars.known_existing(path)

    def existing_keywords(self, path: Path) -> list[str]:
        """Keywords the photo already has (sidecars and embedded), read once and cached."""
        known = self.sidecars.known_existing(path)
        if known is not None:
            return known
        return self.refresh_existing([path]).get(Path(path), [])

    def refresh_existing(self, paths: Iterable[Path], progress: ProgressCallback = None,
                         cancel: Optional[threading.Event] = None) -> dict[Path, list[str]]:
        """Re-read the keywords already in these photos' sidecars and files (``cancel``: stop
        early, returning what was read; ``progress``: told every 32 photos)."""
        return self.sidecars.read_existing(paths, progress, cancel)

    def export(self, path: Path, form: ExportFormat) -> ExportReport:
        """Scores (every probability, plus the accepted tags) or exiftool's CSV (accepted tags)."""
        return export_results(Path(path), form, self.results(), self.learner.sets_to_score(self.label_sets),
                              self.accepted_keywords)

    # ------------------------------------------------------------------ search

    def search(self, query: "SearchQuery", paths: Optional[Sequence[Path]] = None, progress: ProgressCallback = None,
               cancel: Optional[threading.Event] = None, encode: bool = True,
               top: Optional[int] = None, min_score: Optional[float] = None) -> "list[Hit]":
        """Rank ``paths`` (default: every photo in the session) by ``query``, best first.

        Embeddings come from the results, then the cache; with ``encode`` the photos with
        neither are tagged first (as ``tag``), else left out. ``like`` photos outside ``paths``
        are encoded but not ranked. See ``Searcher``.
        """
        engine = self.engine
        if engine is None:
            raise SessionError("no model is loaded yet")
        return self.searcher.search(query, engine, SessionEmbeddings(self, engine), paths, progress, cancel,
                                    encode, top, min_score)
