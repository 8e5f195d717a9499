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
    session.relearn()                             # heads from the recorded decisions (core.learning)
    session.learn_from_keywords(paths, 5)         # a "My keywords" set from the library's keywords

It is Qt-free and thread-safe: heavy verbs (``use_model``, ``tag``, ``rescore``, ``write``,
``undo``, ``export``) run on a worker thread, cheap ones (decisions, queries) may be called
from a UI thread while a run is in progress.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable, Iterator, Optional, Sequence

from cliptagger.core.errors import SessionError
from cliptagger.core.metadata.export import (
    ExportFormat,
    write_exiftool_csv,
    write_scores_csv,
)
from cliptagger.core.metadata.sidecars import (
    FolderListing,
    SidecarStyle,
    WriteReport,
    existing_keywords,
    existing_sidecars,
    sidecar_path,
    write_sidecars,
)
from cliptagger.core.session.decisions import Decision, ReviewState, TagKey
from cliptagger.core.tagging.engine import (
    ImageFailure,
    ImageResult,
    Outcome,
    Progress,
    TaggingEngine,
)
from cliptagger.core.tagging.labels import Label, LabelSet

if TYPE_CHECKING:
    from cliptagger.core.learning.examples import ExampleStore
    from cliptagger.core.learning.heads import LabelStats, LearnedModel, SetHead
    from cliptagger.core.metadata.journal import UndoReport
    from cliptagger.core.model.clip import ClipModel
    from cliptagger.core.tagging.cache import EmbeddingCache
    from cliptagger.core.tagging.engine import PromptEmbeddingCache
    from cliptagger.core.tagging.search import Hit, SearchIndex, SearchQuery

#: The label set ``learn_from_keywords`` makes from the keywords already in the library.
MY_KEYWORDS = "My keywords"


@dataclass(frozen=True)
class ReviewRow:
    """One tag the user can decide on for one photo: a proposal, or a label decided before."""

    key: TagKey
    label: Label
    probability: float
    threshold: float
    proposed: bool
    decision: Optional[Decision]


@dataclass
class KeywordLearning:
    """What ``learn_from_keywords`` found: photos read, keyword counts, the labels it made."""

    photos: int
    photos_with_keywords: int
    counts: dict[str, int]
    labels: list[str]
    stats: "list[LabelStats]" = field(default_factory=list)
    #: Stopped by its cancel Event before anything was added (the counts may be partial).
    cancelled: bool = False


@dataclass
class ExportReport:
    path: Path
    rows: int
    #: For the exiftool form: the command line that applies the CSV.
    command: str = ""
    #: For the exiftool form: every photo already has every keyword (no command to run).
    nothing_to_apply: bool = False


@dataclass
class EngineOptions:
    """How images are turned into embeddings (None: the engine's defaults for the device)."""

    batch_size: Optional[int] = None
    fast_decode: bool = True
    background_priority: bool = False
    use_cache: bool = True
    cache_path: Optional[Path] = None
    #: Score with the heads learned from the user's decisions (False: zero-shot only).
    use_learned: bool = True
    #: Record accepts and rejects in the examples store (the data folder), for learning.
    record_examples: bool = True
    #: Put decisions recorded in an earlier session back in force when a photo is tagged.
    restore_decisions: bool = False
    examples_path: Optional[Path] = None


@dataclass
class _PhotoState:
    result: Optional[ImageResult] = None
    failure: str = ""
    #: Keywords our last write put in force for this photo (None: never written by this session).
    written: Optional[frozenset[str]] = None
    #: Keywords already in the photo's sidecars and embedded metadata (None: not read yet).
    existing: Optional[list[str]] = None
    problems: list[str] = field(default_factory=list)


class Session:
    def __init__(self, label_sets: Sequence[LabelSet], options: Optional[EngineOptions] = None,
                 cache: "Optional[EmbeddingCache]" = None) -> None:
        self.options = options or EngineOptions()
        self.review = ReviewState()
        self._lock = threading.RLock()
        self._label_sets = list(label_sets)
        self._photos: dict[Path, _PhotoState] = {}
        self._cache = cache
        self._warnings_given: set[str] = set()
        self._search: "Optional[_SearchState]" = None
        self.model: "Optional[ClipModel]" = None
        self.engine: Optional[TaggingEngine] = None
        #: Bumped when photos or results change: search re-reads embeddings only then.
        self._changes = 0
        self._examples: "Optional[ExampleStore]" = None
        #: Label sets with decisions recorded since their head was last trained.
        self._changed_sets: set[str] = set()
        self.learned: "Optional[LearnedModel]" = None
        #: Problems met reading the learned heads (reported, never fatal).
        self.learn_warnings: list[str] = []

    # ------------------------------------------------------------------ model and labels

    @property
    def label_sets(self) -> list[LabelSet]:
        with self._lock:
            return list(self._label_sets)

    @property
    def model_id(self) -> Optional[str]:
        return self.model.model_id if self.model is not None else None

    def cache(self) -> "Optional[EmbeddingCache]":
        """The embedding cache, opened on first use (off the UI thread)."""
        if self._cache is None and self.options.use_cache:
            from cliptagger.core.tagging.cache import EmbeddingCache

            self._cache = EmbeddingCache(self.options.cache_path)
        return self._cache

    def take_warnings(self) -> list[str]:
        """Warnings not handed out yet (the cache turned itself off, a learned-heads file could not
        be read, ...): every front end shows them, once."""
        with self._lock:
            warnings = (self._cache.warnings if self._cache is not None else []) + self.learn_warnings
            fresh = [w for w in dict.fromkeys(warnings) if w not in self._warnings_given]
            self._warnings_given.update(fresh)
        return fresh

    def would_discard_results(self, model_id: Optional[str]) -> bool:
        """True when switching to ``model_id`` would throw away results (a different model)."""
        with self._lock:
            has_results = any(p.result is not None for p in self._photos.values())
        return has_results and model_id != self.model_id

    def use_model(self, model: "ClipModel") -> bool:
        """Tag with ``model`` from now on. Results and decisions are kept when it is the same
        model (another device, a reload); returns False when earlier results were dropped."""
        kept = self.model is not None and model.model_id == self.model.model_id
        engine = TaggingEngine(model, self.label_sets, batch_size=self.options.batch_size,
                               fast_decode=self.options.fast_decode, cache=self.cache(),
                               background_priority=self.options.background_priority)
        with self._lock:
            if not kept:
                for state in self._photos.values():
                    state.result = None
                    state.failure = ""
                self.review.clear()
            self.model, self.engine = model, engine
        self._load_learned()
        if kept:
            self.rescore(self.label_sets)  # same embeddings, the new engine's prototypes
        return kept

    def _scoring_sets(self) -> list[LabelSet]:
        """The user's label sets, then the sets made by learning that they do not name."""
        with self._lock:
            sets = list(self._label_sets)
            learned = self.learned
        names = {s.name.casefold() for s in sets}
        if learned is not None and self.options.use_learned:
            sets += [s for s in learned.label_sets if s.name.casefold() not in names]
        return sets

    def _load_learned(self) -> None:
        from cliptagger.core.learning.heads import LearnedModel, load_learned

        model_id, engine = self.model_id, self.engine
        if model_id is None or engine is None:
            return
        if self.options.use_learned:
            learned, warnings = load_learned(model_id)
        else:
            learned, warnings = LearnedModel(model_id), []
        with self._lock:
            self.learned = learned
            self.learn_warnings = warnings
        engine.heads = dict(learned.heads) if self.options.use_learned else {}
        engine.set_label_sets(self._scoring_sets())

    def rescore(self, label_sets: Sequence[LabelSet]) -> list[ImageResult]:
        """New label sets: every tagged photo is re-scored from its embedding (no image work)."""
        with self._lock:
            self._label_sets = list(label_sets)
            engine = self.engine
        if engine is None:
            return []
        learned = self.learned
        engine.heads = dict(learned.heads) if learned is not None and self.options.use_learned else {}
        engine.set_label_sets(self._scoring_sets())
        results = self.results()
        for result, scores in zip(results, engine.score_results(results)):
            result.scores = scores
        return results

    # ------------------------------------------------------------------ photos

    def add(self, paths: Iterable[Path]) -> list[Path]:
        """Register photos (keeping order); returns the ones that were new."""
        added = []
        with self._lock:
            for path in paths:
                path = Path(path)
                if path not in self._photos:
                    self._photos[path] = _PhotoState()
                    added.append(path)
            self._changes += bool(added)
        return added

    def remove_all(self) -> None:
        with self._lock:
            self._photos.clear()
            self._changes += 1
            self.review.clear()

    def paths(self) -> list[Path]:
        with self._lock:
            return list(self._photos)

    def pending(self) -> list[Path]:
        """Photos neither tagged nor failed."""
        with self._lock:
            return [p for p, s in self._photos.items() if s.result is None and not s.failure]

    def result(self, path: Path) -> Optional[ImageResult]:
        with self._lock:
            state = self._photos.get(Path(path))
            return state.result if state is not None else None

    def results(self) -> list[ImageResult]:
        with self._lock:
            return [s.result for s in self._photos.values() if s.result is not None]

    def failure(self, path: Path) -> str:
        with self._lock:
            state = self._photos.get(Path(path))
            return state.failure if state is not None else ""

    def failures(self) -> list[tuple[Path, str]]:
        with self._lock:
            return [(p, s.failure) for p, s in self._photos.items() if s.failure]

    # ------------------------------------------------------------------ tagging

    def tag(self, paths: Optional[Sequence[Path]] = None,
            progress: Optional[Callable[[Progress], None]] = None,
            cancel: Optional[threading.Event] = None) -> Iterator[Outcome]:
        """Tag ``paths`` (default: every pending photo), yielding each outcome as it is stored.

        Embeddings come from the cache where the file is unchanged; the rest are decoded and
        encoded once. Cancelling takes effect between batches.
        """
        engine = self.engine
        if engine is None:
            raise SessionError("no model is loaded yet")
        todo = list(self.pending() if paths is None else paths)
        self.add(todo)
        restore = self.options.restore_decisions and self.options.record_examples
        for outcome in engine.run(todo, on_progress=progress, cancel=cancel):
            with self._lock:
                state = self._photos.setdefault(outcome.path, _PhotoState())
                if isinstance(outcome, ImageFailure):
                    state.result, state.failure = None, outcome.reason
                else:
                    state.result, state.failure = outcome, ""
                self._changes += 1
            if restore and not isinstance(outcome, ImageFailure):
                self._restore_decisions(outcome.path)
            yield outcome

    def _restore_decisions(self, path: Path) -> None:
        """Decisions recorded for this photo in an earlier session come back in force."""
        model_id = self.model_id
        if model_id is None or self.review.get(path):
            return
        decisions = self.examples().decisions_for([path], model_id).get(path, [])
        for set_name, keyword, positive in decisions:
            self.review.set(path, [TagKey(set_name, keyword)],
                            Decision.ACCEPTED if positive else Decision.REJECTED)
        accepted = frozenset(self.accepted_keywords(path))
        if decisions and accepted:
            # Already in the photo's sidecar (written in an earlier session): nothing to write now,
            # so quitting does not ask about tags that are on disk already.
            on_disk = {k.casefold() for k in self.existing_keywords(path)}
            if all(k.casefold() in on_disk for k in accepted):
                with self._lock:
                    self._photos[path].written = accepted

    # ------------------------------------------------------------------ review

    def review_rows(self, path: Path) -> list[ReviewRow]:
        """The photo's proposals (most probable first within each set), then any label that is
        decided but no longer proposed, so a decision never silently disappears from view."""
        result = self.result(path)
        if result is None:
            return []
        decisions = self.review.get(path)
        rows: list[ReviewRow] = []
        for scores in result.scores:
            label_set = scores.label_set
            proposed = {p.label.keyword for p in scores.proposals}
            by_keyword = dict(zip((l.keyword for l in label_set.labels), scores.probabilities))
            ordered = [p.label for p in scores.proposals] + [
                l for l in label_set.labels
                if l.keyword not in proposed and TagKey(label_set.name, l.keyword) in decisions]
            thresholds = dict(zip((l.keyword for l in label_set.labels), self._thresholds(label_set)))
            for label in ordered:
                key = TagKey(label_set.name, label.keyword)
                rows.append(ReviewRow(key, label, by_keyword[label.keyword], thresholds[label.keyword],
                                      label.keyword in proposed, decisions.get(key)))
        return rows

    def _thresholds(self, label_set: LabelSet) -> list[float]:
        """Per label: the user's override, else the calibrated threshold learning fitted, else the set's."""
        from cliptagger.core.learning.heads import label_thresholds

        learned = self.learned
        if learned is None or not self.options.use_learned:
            return label_thresholds(label_set, None)
        return label_thresholds(label_set, learned.heads.get(label_set.name))

    def proposed_keys(self, path: Path) -> list[TagKey]:
        return [row.key for row in self.review_rows(path) if row.proposed]

    def decide(self, paths: Iterable[Path], decision: Optional[Decision], key: Optional[TagKey] = None) -> int:
        """Accept or reject (None: un-decide) one tag, or every proposal, of each photo."""
        changed, decided = 0, []
        for path in paths:
            keys = [key] if key is not None else self.proposed_keys(path)
            changed += self.review.set(path, keys, decision)
            decided.append((Path(path), keys))
        self._record(decided, decision)
        return changed

    def accept_above_threshold(self, paths: Optional[Iterable[Path]] = None, record: bool = True) -> int:
        """Accept every proposal that is still pending; an explicit rejection stays a rejection.
        ``record``: also keep them as examples to learn from (the user's decision)."""
        changed, decided = 0, []
        for path in (self.paths() if paths is None else paths):
            pending = [row.key for row in self.review_rows(path) if row.proposed and row.decision is None]
            changed += self.review.set(path, pending, Decision.ACCEPTED)
            decided.append((Path(path), pending))
        if record:
            self._record(decided, Decision.ACCEPTED)
        return changed

    # ------------------------------------------------------------------ learning

    def examples(self) -> "ExampleStore":
        """The examples store (the data folder), opened on first use."""
        from cliptagger.core.learning.examples import ExampleStore

        with self._lock:
            if self._examples is None:
                self._examples = ExampleStore(self.options.examples_path)
            return self._examples

    def _record(self, decided: list[tuple[Path, list[TagKey]]], decision: Optional[Decision]) -> None:
        model_id = self.model_id
        if not self.options.record_examples or model_id is None:
            return
        positive = None if decision is None else decision is Decision.ACCEPTED
        items = []
        for path, keys in decided:
            result = self.result(path)
            if result is not None:
                items.extend((path, result.embedding, key.label_set, key.keyword, positive) for key in keys)
        if items:
            self.examples().record(items, model_id)
            with self._lock:
                self._changed_sets.update(item[2] for item in items)

    def relearn(self, target_precision: Optional[float] = None, changed_only: bool = False) -> "dict[str, SetHead]":
        """Train every label set's head from the recorded examples of the current model, store
        the heads (per model id) and re-score every tagged photo from its embedding.
        ``changed_only``: retrain only the sets decided on since (the app, after a tick)."""
        from cliptagger.core.learning.heads import (
            LearnedModel,
            save_learned,
            train_heads,
        )

        model, engine = self.model, self.engine
        if model is None or engine is None:
            raise SessionError("no model is loaded yet")
        learned = self.learned or LearnedModel(model.model_id)
        if target_precision is not None:
            learned.target_precision = target_precision
        with self._lock:
            self.learned = learned
        if self.options.use_learned:
            engine.set_label_sets(self._scoring_sets())
        else:  # a zero-shot run: the learned sets are not in the engine
            engine.set_label_sets([*self.label_sets, *learned.label_sets])
        with self._lock:
            changed, self._changed_sets = self._changed_sets, set()
        store = self.examples()
        if changed_only:
            prototypes = [p for p in engine.prototypes() if p.label_set.name in changed]
            examples = [e for name in sorted(changed) for e in store.examples(model.model_id, name)]
            heads = dict(learned.heads)
            heads.update(train_heads(examples, prototypes, model.logit_scale, learned.target_precision))
            for name in changed:  # a set whose examples were all taken back has no head any more
                if not any(e.label_set == name for e in examples):
                    heads.pop(name, None)
        else:
            examples = store.examples(model.model_id)
            heads = train_heads(examples, engine.prototypes(), model.logit_scale, learned.target_precision)
        learned.heads = heads
        save_learned(learned)
        with self._lock:
            self.learned = learned
        self.rescore(self.label_sets)
        return heads

    def label_stats(self, key: TagKey) -> "Optional[LabelStats]":
        """What learning found for one label (None: no examples, zero-shot)."""
        learned = self.learned
        head = learned.heads.get(key.label_set) if learned is not None else None
        return head.stat(key.keyword) if head is not None else None

    def zero_shot_probability(self, path: Path, key: TagKey) -> Optional[float]:
        """The label's zero-shot probability for the photo (to show next to the learned one)."""
        from cliptagger.core.tagging.scoring import probabilities

        result, engine = self.result(path), self.engine
        if result is None or engine is None or self.model is None:
            return None
        for prototypes in engine.prototypes():
            keywords = [l.keyword for l in prototypes.label_set.labels]
            if prototypes.label_set.name == key.label_set and key.keyword in keywords:
                row = probabilities(result.embedding[None, :], prototypes, self.model.logit_scale)[0]
                return float(row[keywords.index(key.keyword)])
        return None

    def forget_examples(self, label_set: str, keyword: Optional[str] = None) -> int:
        """Forget a label's examples (every label of the set when ``keyword`` is None) for
        the current model, then learn again. Returns how many examples went."""
        model_id = self.model_id
        if model_id is None:
            raise SessionError("no model is loaded yet")
        removed = self.examples().forget(label_set, keyword, model_id)
        self.relearn()
        return removed

    def learn_from_keywords(self, paths: Sequence[Path], min_examples: int = 5,
                            progress: Optional[Callable[[Progress], None]] = None,
                            cancel: Optional[threading.Event] = None,
                            add: bool = True) -> "KeywordLearning":
        """Turn the keywords already in these photos (sidecars and embedded XMP) into learned
        labels of a set "My keywords": every keyword on at least ``min_examples`` photos.

        Positives: the photos with the keyword; negatives: the photos that have keywords but
        not this one (a photo with no keyword at all says nothing: the user never got to it).
        Photos not tagged yet are tagged first (embeddings from the cache where possible).
        ``add=False`` only reports what was found (the app shows it before adding anything).
        ``progress`` hears the tagging, then the reading of the keywords (a new count from 0);
        ``cancel`` stops either, and then nothing is added (``cancelled`` in the report).
        """
        from collections import Counter

        from cliptagger.core.learning.examples import SOURCE_LIBRARY
        from cliptagger.core.tagging.labels import HIERARCHY_SEPARATOR, Label, Mode

        model_id = self.model_id
        if model_id is None or self.engine is None:
            raise SessionError("no model is loaded yet")
        paths = [Path(p) for p in paths]
        self.add(paths)
        untagged = [p for p in paths if self.result(p) is None]
        if untagged:
            for _ in self.tag(untagged, progress, cancel):
                pass
        with_results = [p for p in paths if self.result(p) is not None]
        stopped = KeywordLearning(len(paths), 0, {}, [], cancelled=True)
        if cancel is not None and cancel.is_set():
            return stopped
        found = self.refresh_existing(with_results, progress, cancel)
        if cancel is not None and cancel.is_set():
            return stopped
        keyworded = {p: k for p, k in found.items() if k}
        spelling: dict[str, str] = {}
        counts: Counter[str] = Counter()
        for keywords in keyworded.values():
            for keyword in {k.strip(HIERARCHY_SEPARATOR + " ").casefold(): k.strip(HIERARCHY_SEPARATOR + " ")
                            for k in keywords if k.strip(HIERARCHY_SEPARATOR + " ")}.items():
                spelling.setdefault(keyword[0], keyword[1])
                counts[keyword[0]] += 1
        chosen = sorted((k for k, c in counts.items() if c >= min_examples), key=lambda k: spelling[k].casefold())
        report = KeywordLearning(len(paths), len(keyworded), {spelling[k]: counts[k] for k in counts}, 
                                 [spelling[k] for k in chosen])
        if not add or not chosen:
            return report
        labels = []
        for key in chosen:
            parent, _, name = spelling[key].rpartition(HIERARCHY_SEPARATOR)
            labels.append(Label(name=name.strip(), parent=parent.strip()))
        my_set = LabelSet(MY_KEYWORDS, tuple(labels), mode=Mode.INDEPENDENT, threshold=0.5, max_tags=len(labels))
        store = self.examples()
        store.forget(MY_KEYWORDS, model_id=model_id, source=SOURCE_LIBRARY)
        items = []
        for path, keywords in keyworded.items():
            has = {k.strip(HIERARCHY_SEPARATOR + " ").casefold() for k in keywords}
            embedding = self.result(path).embedding  # type: ignore[union-attr]
            for label, key in zip(labels, chosen):
                items.append((path, embedding, MY_KEYWORDS, label.keyword, key in has))
        store.record(items, model_id, source=SOURCE_LIBRARY)
        from cliptagger.core.learning.heads import LearnedModel

        learned = self.learned or LearnedModel(model_id)
        learned.label_sets = [s for s in learned.label_sets if s.name != MY_KEYWORDS] + [my_set]
        with self._lock:
            self.learned = learned
        heads = self.relearn()
        head = heads.get(MY_KEYWORDS)
        report.stats = list(head.stats) if head is not None else []
        return report

    def accepted_keywords(self, path: Path) -> list[str]:
        """Keywords accepted in any current label set (once each, in label set order)."""
        keywords = [row.key.keyword for row in self.review_rows(path) if row.decision is Decision.ACCEPTED]
        return list(dict.fromkeys(keywords))

    def unwritten(self) -> list[Path]:
        """Photos whose accepted tags differ from what this session last wrote for them."""
        with self._lock:
            written = {p: s.written for p, s in self._photos.items()}
        changed = []
        for path, last in written.items():
            accepted = frozenset(self.accepted_keywords(path))
            if (last is None and accepted) or (last is not None and accepted != last):
                changed.append(path)
        return changed

    def is_written(self, path: Path) -> bool:
        """Written by this session and unchanged since."""
        with self._lock:
            state = self._photos.get(Path(path))
            last = state.written if state is not None else None
        return last is not None and frozenset(self.accepted_keywords(path)) == last

    # ------------------------------------------------------------------ sidecars

    def write(self, style: SidecarStyle = SidecarStyle.EXT, dry_run: bool = False,
              description: str = "cliptagger", paths: Optional[Iterable[Path]] = None) -> WriteReport:
        """Write the accepted tags of every photo with unwritten changes (or of ``paths``).

        A photo whose tags were written before and are now all rejected gets an empty list,
        which takes cliptagger's earlier tags out of its sidecar (the user's stay).
        """
        targets = self.unwritten() if paths is None else [Path(p) for p in paths]
        assignments = {path: self.accepted_keywords(path) for path in targets}
        report = write_sidecars(assignments, style, dry_run=dry_run, description=description)
        if not dry_run:
            with self._lock:
                for path in report.images_saved:
                    if path in self._photos:
                        self._photos[path].written = frozenset(assignments[path])
            self.refresh_existing(report.images_saved)
        return report

    def undo(self, force: bool = False) -> "UndoReport":
        """Take back the last batch of sidecar writes; the photos it touched count as unwritten."""
        from cliptagger.core.metadata.journal import undo_last_batch

        report = undo_last_batch(force=force)
        touched = {Path(p) for p in [*report.restored, *report.removed, *report.merged]}
        if touched:
            listing = FolderListing()
            affected = [path for path in self.paths()
                        if touched & {*existing_sidecars(path, listing), sidecar_path(path, listing=listing)}]
            with self._lock:
                for path in affected:
                    self._photos[path].written = None
            self.refresh_existing(affected)
        return report

    @staticmethod
    def can_undo() -> bool:
        from cliptagger.core.metadata.journal import list_batches

        return bool(list_batches())

    def known_existing_keywords(self, path: Path) -> Optional[list[str]]:
        """The photo's existing keywords if they were read already (None: not yet); no disk I/O."""
        with self._lock:
            state = self._photos.get(Path(path))
            return list(state.existing) if state is not None and state.existing is not None else None

    def existing_keywords(self, path: Path) -> list[str]:
        """Keywords the photo already has (sidecars and embedded), read once and cached."""
        with self._lock:
            state = self._photos.get(Path(path))
            if state is not None and state.existing is not None:
                return list(state.existing)
        return self.refresh_existing([path]).get(Path(path), [])

    def refresh_existing(self, paths: Iterable[Path], progress: Optional[Callable[[Progress], None]] = None,
                         cancel: Optional[threading.Event] = None) -> dict[Path, list[str]]:
        """Re-read the keywords already in these photos' sidecars and files (``cancel``: stop
        early, returning what was read; ``progress``: told every 32 photos)."""
        import time

        paths = list(paths)
        listing = FolderListing()
        found: dict[Path, list[str]] = {}
        start = time.monotonic()
        for index, path in enumerate(paths):
            if cancel is not None and cancel.is_set():
                break
            if progress is not None and index % 32 == 0:
                progress(Progress(index, len(paths), 0, time.monotonic() - start))
            keywords, problems = existing_keywords(Path(path), listing)
            found[Path(path)] = keywords
            with self._lock:
                state = self._photos.get(Path(path))
                if state is not None:
                    state.existing, state.problems = keywords, problems
        if progress is not None and len(found) == len(paths):
            progress(Progress(len(paths), len(paths), 0, time.monotonic() - start))
        return found

    # ------------------------------------------------------------------ export

    def export(self, path: Path, form: ExportFormat) -> ExportReport:
        """Scores (every probability, plus the accepted tags) or exiftool's CSV (accepted tags)."""
        path = Path(path)
        results = self.results()
        if form is ExportFormat.SCORES:
            accepted = {r.path: self.accepted_keywords(r.path) for r in results}
            write_scores_csv(path, results, self._scoring_sets(), accepted)  # learned sets too
            return ExportReport(path, len(results))
        assignments = {r.path: self.accepted_keywords(r.path) for r in results}
        assignments = {p: k for p, k in assignments.items() if k}
        if not assignments:
            raise SessionError("no accepted tags to export: accept some tags first")
        command = write_exiftool_csv(path, assignments)
        return ExportReport(path, len(assignments), command, nothing_to_apply=not command)

    # ------------------------------------------------------------------ search

    def search(self, query: "SearchQuery", paths: Optional[Sequence[Path]] = None,
               progress: Optional[Callable[[Progress], None]] = None,
               cancel: Optional[threading.Event] = None, encode: bool = True,
               top: Optional[int] = None, min_score: Optional[float] = None) -> "list[Hit]":
        """Rank ``paths`` (default: every photo in the session) by ``query``, best first.

        The embeddings come from the session's results, then from the cache; with ``encode``
        the photos that have neither are tagged first (the same run as ``tag``, with its
        progress and cancel), without it they are left out. They are kept in an fp16 matrix
        (``core.search.SearchIndex``), so a later search costs one text encoding and one
        matrix product. ``like`` photos outside ``paths`` are encoded but not ranked.
        """
        from cliptagger.core.tagging.search import SearchError, query_vector

        engine = self.engine
        if engine is None:
            raise SessionError("no model is loaded yet")
        if query.is_empty:
            raise SearchError("a search needs some text or an example photo")
        state = self._search_state(engine)
        examples = [Path(p) for p in query.like]
        with self._lock:
            outside = [p for p in examples if p not in state.index and p not in self._photos]
        if outside:  # an example from elsewhere: encoded (and cached), not added to the photos
            state.index.put((o.path, o.embedding) for o in engine.run(outside) if isinstance(o, ImageResult))
        if paths is None:
            selection = self._whole_view(state, progress, cancel, encode)
        else:
            in_view = [p if isinstance(p, Path) else Path(p) for p in paths]
            self.add(in_view)
            complete = self._index_embeddings(state, in_view, progress, cancel, encode)
            # the index holds every photo in view and nothing else: no need to pick rows
            selection = whole_or_rows(state.index, in_view, complete)
        self._index_embeddings(state, [p for p in examples if p not in state.index], None, cancel, encode)
        vector = query_vector(query, state.prompts, {p: state.index.get(p) for p in examples if p in state.index})
        return state.index.search(vector, top=top, min_score=min_score, selection=selection)

    def _whole_view(self, state: "_SearchState", progress: Optional[Callable[[Progress], None]],
                    cancel: Optional[threading.Event], encode: bool) -> "int | tuple":
        """Rows of every photo in the session, re-read only after a change:
        a search as you type costs no per-photo Python work."""
        with self._lock:
            changes = self._changes
        if state.view is not None and state.view[:2] == (changes, state.index.version):
            return state.view[2]
        in_view = self.paths()
        complete = self._index_embeddings(state, in_view, progress, cancel, encode)
        selection = whole_or_rows(state.index, in_view, complete)
        state.view = (changes, state.index.version, selection)
        return selection

    def _search_state(self, engine: TaggingEngine) -> "_SearchState":
        """The search index and query-text cache of the current model (a new model: new ones)."""
        from cliptagger.core.tagging.engine import PromptEmbeddingCache
        from cliptagger.core.tagging.search import SearchIndex

        with self._lock:
            state = self._search
            if state is None or state.model_id != engine.model.model_id:
                state = self._search = _SearchState(engine.model.model_id, SearchIndex(),
                                                    PromptEmbeddingCache(engine.model))
            return state

    def _index_embeddings(self, state: "_SearchState", paths: Sequence[Path],
                          progress: Optional[Callable[[Progress], None]],
                          cancel: Optional[threading.Event], encode: bool) -> bool:
        """Put the embeddings of ``paths`` that are not in the index yet into it; True when
        every one of them is in the index now."""
        missing = [p for p in paths if p not in state.index]
        if not missing:
            return True
        with self._lock:
            known = [(p, self._photos[p].result) for p in missing if p in self._photos]
        state.index.put((p, r.embedding) for p, r in known if r is not None)
        rest = [p for p, r in known if r is None and not self.failure(p)]
        if encode and rest:
            outcomes = list(self.tag(rest, progress, cancel))
            state.index.put((o.path, o.embedding) for o in outcomes if isinstance(o, ImageResult))
        elif rest and self.cache() is not None and self.model is not None:
            state.index.put(self.cache().lookup(rest, self.model.model_id).items())
        return all(p in state.index for p in missing)


def whole_or_rows(index: "SearchIndex", in_view: list[Path], complete: bool) -> "int | tuple":
    """The index's first rows when they are exactly the photos in view (no rows to pick),
    else the rows of the photos in view."""
    return len(in_view) if complete and len(index) == len(in_view) else index.rows_of(in_view)


@dataclass
class _SearchState:
    model_id: str
    index: "SearchIndex"
    prompts: "PromptEmbeddingCache"
    #: (session changes, index version, row selection) of the last search over every photo.
    view: Optional[tuple] = None
