"""What the user reviews for one photo: its proposals and the labels decided before.

Pure functions over a result, the photo's decisions and the thresholds in force, shared by
the session (accepted keywords, what to write) and, through it, every front end.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Mapping, Optional

from cliptagger.core.session.decisions import Decision, TagKey
from cliptagger.core.storage.text_rules import under_root
from cliptagger.core.tagging.engine import ImageResult
from cliptagger.core.tagging.head_scoring import LabelThreshold, ThresholdSource
from cliptagger.core.tagging.labels import Label, LabelSet


@dataclass(frozen=True)
class ReviewRow:
    """One tag the user can decide on for one photo: a proposal, or a label decided before."""

    key: TagKey
    label: Label
    probability: float
    threshold: float
    proposed: bool
    decision: Optional[Decision]
    #: Where ``threshold`` comes from: yours, learned (calibrated), or the set's.
    threshold_source: ThresholdSource = ThresholdSource.SET


def review_rows(result: ImageResult, decisions: Mapping[TagKey, Decision],
                thresholds: Callable[[LabelSet], list[LabelThreshold]]) -> list[ReviewRow]:
    """The photo's proposals (most probable first within each set), then any label that is
    decided but no longer proposed, so a decision never silently disappears from view.
    ``thresholds(label_set)``: each label's threshold in force (user, calibrated or the set's)."""
    rows: list[ReviewRow] = []
    for scores in result.scores:
        label_set = scores.label_set
        proposed = {p.label.keyword for p in scores.proposals}
        by_keyword = dict(zip((l.keyword for l in label_set.labels), scores.probabilities))
        ordered = [p.label for p in scores.proposals] + [
            l for l in label_set.labels
            if l.keyword not in proposed and TagKey(label_set.name, l.keyword) in decisions]
        in_force = dict(zip((l.keyword for l in label_set.labels), thresholds(label_set)))
        for label in ordered:
            key = TagKey(label_set.name, label.keyword)
            threshold = in_force[label.keyword]
            rows.append(ReviewRow(key, label, by_keyword[label.keyword], threshold.value,
                                  label.keyword in proposed, decisions.get(key), threshold.source))
    return rows


def accepted_keywords(rows: list[ReviewRow], root: str = "") -> list[str]:
    """Keywords accepted in any current label set (once each, in label set order), below the
    root keyword ``root`` when there is one (``AI|Animals|dog``): the keywords as written."""
    return list(dict.fromkeys(under_root(row.key.keyword, root) for row in rows
                              if row.decision is Decision.ACCEPTED))


def shown_names(rows: list[ReviewRow]) -> dict[TagKey, str]:
    """How to name each row's tag: its keyword, or ``Set: keyword`` where the same name (its
    last level, any letter case) comes from more than one set among the rows, so "star" from
    a Mood set never reads as the shape."""
    sets_by_name: dict[str, set[str]] = {}
    for row in rows:
        sets_by_name.setdefault(row.label.name.casefold(), set()).add(row.key.label_set)
    return {row.key: f"{row.key.label_set}: {row.key.keyword}" if len(sets_by_name[row.label.name.casefold()]) > 1
            else row.key.keyword for row in rows}
