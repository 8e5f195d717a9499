"""Learn from the keywords a library already has: which keywords become labels, and the
examples each photo gives them. Pure functions; the session reads the keywords and records.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Mapping, Optional

from cliptagger.core.learning.examples import SOURCE_LIBRARY
from cliptagger.core.storage.text_rules import keyword_form, keyword_problem
from cliptagger.core.tagging.labels import HIERARCHY_SEPARATOR, Label, LabelSet, Mode

if TYPE_CHECKING:
    from cliptagger.core.session.facade import Session
    from cliptagger.core.tagging.engine import Progress
    from cliptagger.core.tagging.head_scoring import LabelStats

#: The label set ``learn_from_keywords`` makes from the keywords already in the library.
MY_KEYWORDS = "My keywords"


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
    #: Keywords found that cannot be labels (control characters, an empty level), with why.
    left_out: dict[str, str] = field(default_factory=dict)
    #: The labels this run added to "My keywords" (the others were there from an earlier run).
    new_labels: list[str] = field(default_factory=list)


def count_keywords(found: Mapping[Path, list[str]], photos: int, min_examples: int) -> tuple[KeywordLearning, list[str]]:
    """The report, and the chosen keywords (casefolded) that are on ``min_examples`` photos or more."""
    keyworded = {p: k for p, k in found.items() if k}
    spelling: dict[str, str] = {}
    counts: Counter[str] = Counter()
    left_out: dict[str, str] = {}
    for keywords in keyworded.values():
        usable = []
        for keyword in map(keyword_form, keywords):
            if not keyword:
                continue
            problem = keyword_problem(keyword)
            if problem:
                left_out[keyword] = problem
            else:
                usable.append(keyword)
        for folded, written in {k.casefold(): k for k in usable}.items():
            spelling.setdefault(folded, written)
            counts[folded] += 1
    chosen = sorted((k for k, c in counts.items() if c >= min_examples), key=lambda k: spelling[k].casefold())
    report = KeywordLearning(photos, len(keyworded), {spelling[k]: counts[k] for k in counts},
                             [spelling[k] for k in chosen], left_out=left_out)
    return report, chosen


def my_keywords_set(report: KeywordLearning) -> LabelSet:
    """The "My keywords" label set of the chosen keywords (``A|B|leaf`` keeps its parents)."""
    labels = []
    for keyword in report.labels:
        parent, _, name = keyword.rpartition(HIERARCHY_SEPARATOR)
        labels.append(Label(name=name.strip(), parent=parent.strip()))
    return LabelSet(MY_KEYWORDS, tuple(labels), mode=Mode.INDEPENDENT, threshold=0.5, max_tags=len(labels))


def merged_with_earlier(earlier: Optional[LabelSet], found: LabelSet) -> tuple[LabelSet, list[str]]:
    """The "My keywords" set of an earlier run with the keywords found now added (a second run,
    on another folder, must not drop the first one's labels), and the keywords that are new."""
    if earlier is None:
        return found, [label.keyword for label in found.labels]
    known = {label.keyword.casefold() for label in earlier.labels}
    new = [label for label in found.labels if label.keyword.casefold() not in known]
    labels = (*earlier.labels, *new)
    return earlier.with_changes(labels=labels, max_tags=len(labels)), [label.keyword for label in new]


def library_examples(found: Mapping[Path, list[str]], label_set: LabelSet, chosen: list[str],
                     embedding: Callable[[Path], Any]) -> list[tuple[Path, Any, str, str, bool]]:
    """Per photo with keywords and per label: positive when the photo has the keyword, else
    negative (a photo with no keyword at all says nothing: the user never got to it)."""
    items = []
    for path, keywords in found.items():
        if not keywords:
            continue
        has = {keyword_form(k).casefold() for k in keywords}
        vector = embedding(path)
        for label, key in zip(label_set.labels, chosen):
            items.append((path, vector, label_set.name, label.keyword, key in has))
    return items


def learn_from_keywords(session: "Session", paths: list[Path], min_examples: int,
                        progress: "Optional[Callable[[Progress], None]]" = None,
                        cancel: Optional[threading.Event] = None, add: bool = True) -> KeywordLearning:
    """Turn the keywords already in these photos (sidecars and embedded XMP) into learned
    labels of a set "My keywords": every keyword on at least ``min_examples`` photos.

    A use case over the session's verbs, as a front end would drive them: photos not tagged
    yet are tagged first (embeddings from the cache where possible), their keywords read,
    counted, recorded as examples, and the heads learned. ``add=False`` only reports what was
    found (the app shows it before adding anything). ``progress`` hears the tagging, then the
    reading (a new count from 0); ``cancel`` stops either, and then nothing is added.
    """

    model_id = session.model_id
    assert model_id is not None, "the session checks that a model is loaded"
    session.add(paths)
    untagged = [p for p in paths if session.result(p) is None]
    if untagged:
        for _ in session.tag(untagged, progress, cancel):
            pass
    stopped = KeywordLearning(len(paths), 0, {}, [], cancelled=True)
    if cancel is not None and cancel.is_set():
        return stopped
    read = session.refresh_existing([p for p in paths if session.result(p) is not None], progress, cancel)
    if cancel is not None and cancel.is_set():
        return stopped
    # the user's keywords only: the ones cliptagger wrote would teach it its own proposals
    found = {path: session.sidecars.users_keywords(path) or [] for path in read}
    report, chosen = count_keywords(found, len(paths), min_examples)
    if not add or not chosen:
        return report
    session.learner.prepare(model_id)  # the stored "My keywords" of earlier runs, if any
    my_set, report.new_labels = merged_with_earlier(session.learner.learned_set(MY_KEYWORDS), my_keywords_set(report))
    report.labels = [label.keyword for label in my_set.labels]
    chosen = [label.keyword.casefold() for label in my_set.labels]
    store = session.examples()

    def embedding(path: Path) -> Any:
        result = session.result(path)
        assert result is not None, "only tagged photos were read"
        return result.embedding

    store.record(library_examples(found, my_set, chosen, embedding), model_id, source=SOURCE_LIBRARY)
    session.learner.adopt_set(model_id, my_set)
    head = session.relearn().get(MY_KEYWORDS)
    report.stats = list(head.stats) if head is not None else []
    return report
