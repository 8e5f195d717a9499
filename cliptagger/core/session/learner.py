"""The session's learning: the examples store, the learned heads in force, what changed.

``Learner`` owns the learned model and the examples store (opened on first use, off the UI
thread) under its own lock. It trains from the prototypes and the model the session hands
it; it never scores photos or touches the session's other state: the session re-scores
after it has learned.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Optional, Sequence

from cliptagger.core.learning.examples import ExampleStore
from cliptagger.core.learning.head_store import LearnedModel, import_heads, load_learned, save_learned
from cliptagger.core.learning.training import train_heads
from cliptagger.core.session.decisions import Decision, TagKey
from cliptagger.core.session.options import EngineOptions
from cliptagger.core.tagging.head_scoring import LabelThreshold, thresholds_with_sources
from cliptagger.core.tagging.labels import LabelSet

if TYPE_CHECKING:
    from cliptagger.core.learning.examples import ExampleStore
    from cliptagger.core.tagging.engine import ImageResult
    from cliptagger.core.tagging.head_scoring import LabelStats, SetHead
    from cliptagger.core.tagging.scoring import SetPrototypes

#: One example to record: (photo, its embedding, label set, keyword, positive or None to forget).
ExampleItem = tuple[Path, Any, str, str, Optional[bool]]


class Learner:
    def __init__(self, options: EngineOptions) -> None:
        self._options = options
        self._lock = threading.RLock()
        self._examples: "Optional[ExampleStore]" = None
        #: Label sets with decisions recorded since their head was last trained.
        self._changed_sets: set[str] = set()
        self._learned: Optional[LearnedModel] = None
        #: Problems met reading the learned heads (reported, never fatal).
        self.warnings: list[str] = []

    @property
    def learned(self) -> Optional[LearnedModel]:
        with self._lock:
            return self._learned

    def store_warnings(self) -> list[str]:
        """What the examples store had to say (unavailable, a decision not kept), if opened."""
        store = self._examples
        return list(store.warnings) if store is not None else []

    def examples(self) -> "ExampleStore":
        """The examples store (the data folder), opened on first use."""

        with self._lock:
            if self._examples is None:
                self._examples = ExampleStore(self._options.examples_path)
            return self._examples

    def load(self, model_id: str) -> LearnedModel:
        """The heads stored for this model (none when learning is off for this session)."""
        if self._options.use_learned:
            learned, warnings = load_learned(model_id)
        else:
            learned, warnings = LearnedModel(model_id), []
        with self._lock:
            self._learned, self.warnings = learned, warnings
        return learned

    def heads_in_force(self) -> dict[str, "SetHead"]:
        learned = self.learned
        return dict(learned.heads) if learned is not None and self._options.use_learned else {}

    def sets_to_score(self, user_sets: Sequence[LabelSet]) -> list[LabelSet]:
        """The user's label sets, then the sets made by learning that they do not name."""
        sets = list(user_sets)
        learned = self.learned
        names = {s.name.casefold() for s in sets}
        if learned is not None and self._options.use_learned:
            sets += [s for s in learned.label_sets if s.name.casefold() not in names]
        return sets

    def all_sets(self, user_sets: Sequence[LabelSet]) -> list[LabelSet]:
        """Every set learning may train: the user's and the learned ones, even in a zero-shot run."""
        learned = self.learned
        return [*user_sets, *(learned.label_sets if learned is not None else [])]

    def thresholds(self, label_set: LabelSet) -> list[float]:
        """Per label: the user's override, else the calibrated threshold, else the set's."""
        return [threshold.value for threshold in self.thresholds_with_sources(label_set)]

    def thresholds_with_sources(self, label_set: LabelSet) -> list[LabelThreshold]:
        """``thresholds``, each with where it comes from (yours, learned, the set's)."""
        learned = self.learned
        if learned is None or not self._options.use_learned:
            return thresholds_with_sources(label_set, None)
        return thresholds_with_sources(label_set, learned.heads.get(label_set.name))

    def record(self, items: list[ExampleItem], model_id: str) -> None:
        """Keep decisions as examples to learn from (when this session records them)."""
        if not self._options.record_examples or not items:
            return
        self.examples().record(items, model_id)
        with self._lock:
            self._changed_sets.update(item[2] for item in items)

    def record_decisions(self, decided: "list[tuple[Path, list[TagKey]]]", decision: "Optional[Decision]",
                         result_of: "Callable[[Path], Optional[ImageResult]]", model_id: str) -> None:
        """Keep review decisions (None: taken back) of tagged photos as examples."""
        positive = None if decision is None else decision is Decision.ACCEPTED
        items: list[ExampleItem] = []
        for path, keys in decided:
            result = result_of(path)
            if result is not None:
                items.extend((path, result.embedding, key.label_set, key.keyword, positive) for key in keys)
        self.record(items, model_id)

    def prepare(self, model_id: str, target_precision: Optional[float] = None) -> LearnedModel:
        """The learned model to train into (made if there is none), at ``target_precision``."""
        with self._lock:
            learned = self._learned or LearnedModel(model_id)
            if target_precision is not None:
                learned.target_precision = target_precision
            self._learned = learned
            return learned

    def train(self, model_id: str, prototypes: "list[SetPrototypes]", logit_scale: float,
              changed_only: bool = False) -> "dict[str, SetHead]":
        """Train heads from the recorded examples and store them (``prepare`` first).
        ``changed_only``: retrain only the sets decided on since the last training."""
        learned = self.prepare(model_id)
        with self._lock:
            changed, self._changed_sets = self._changed_sets, set()
        store = self.examples()
        if changed_only:
            chosen = [p for p in prototypes if p.label_set.name in changed]
            examples = [e for name in sorted(changed) for e in store.examples(model_id, name)]
            heads = dict(learned.heads)
            heads.update(train_heads(examples, chosen, logit_scale, learned.target_precision))
            for name in changed:  # a set whose examples were all taken back has no head any more
                if not any(e.label_set == name for e in examples):
                    heads.pop(name, None)
        else:
            examples = store.examples(model_id)
            heads = train_heads(examples, prototypes, logit_scale, learned.target_precision)
        learned.heads = heads
        save_learned(learned)
        return heads

    def learned_set(self, name: str) -> Optional[LabelSet]:
        """A label set made by learning (e.g. "My keywords"), or None."""
        learned = self.learned
        return next((s for s in learned.label_sets if s.name == name), None) if learned is not None else None

    def adopt_set(self, model_id: str, label_set: LabelSet) -> None:
        """Add (or replace, by name) a label set made by learning, e.g. "My keywords"."""
        learned = self.prepare(model_id)
        with self._lock:
            learned.label_sets = [s for s in learned.label_sets if s.name != label_set.name] + [label_set]

    def take_back_edited(self, edited: Sequence[LabelSet]) -> tuple[list[LabelSet], bool, str]:
        """The label sets the user edited, of which those named like a set made by learning
        ("My keywords") go back to learning: edited, or dropped with their head when the user
        deleted them. Returns the others (the user's own, to be saved as theirs), whether a set
        made by learning changed, and why that change could not be stored ("" when it was)."""
        learned = self.learned
        before = {s.name: s for s in learned.label_sets} if learned is not None else {}
        users = [s for s in edited if s.name not in before]
        kept = {s.name: s for s in edited if s.name in before}
        if learned is None or kept == before:
            return users, False, ""
        with self._lock:
            learned.label_sets = [kept[name] for name in before if name in kept]
            for name in set(before) - set(kept):
                learned.heads.pop(name, None)
            self._changed_sets.update(name for name in kept if kept[name] != before[name])
        try:
            save_learned(learned)
        except OSError as err:
            return users, True, str(err.strerror or err)
        return users, True, ""

    def import_heads(self, model_id: str, blocks: dict[str, dict[str, Any]], renamed: dict[str, str]) -> list[str]:
        """Install the heads that came with an imported label-set file and store them; the problems."""
        learned = self.prepare(model_id)
        with self._lock:  # never while training swaps the heads
            installed, problems = import_heads(learned, blocks, renamed)
            if installed:
                save_learned(learned)
        return problems

    def label_stats(self, key: TagKey) -> "Optional[LabelStats]":
        """What learning found for one label (None: no examples, zero-shot)."""
        learned = self.learned
        head = learned.heads.get(key.label_set) if learned is not None else None
        return head.stat(key.keyword) if head is not None else None

    def forget(self, label_set: str, keyword: Optional[str], model_id: str) -> int:
        return self.examples().forget(label_set, keyword, model_id)
