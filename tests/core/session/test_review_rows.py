from pathlib import Path

from cliptagger.core.session.decisions import Decision, TagKey
from cliptagger.core.session.review_rows import accepted_keywords, review_rows
from cliptagger.core.tagging.head_scoring import LabelThreshold, ThresholdSource
from tests.core.session.scenes import SCENE, scored


def test_a_decided_label_stays_in_view_after_it_is_no_longer_proposed():
    result = scored(Path("/p/a.jpg"), (0.7, 0.2, 0.1))
    decisions = {TagKey("Scene", "city"): Decision.ACCEPTED, TagKey("Scene", "beach"): Decision.REJECTED}
    rows = review_rows(result, decisions, lambda label_set: [LabelThreshold(t, ThresholdSource.SET) for t in (0.5, 0.25, 0.05)])
    assert [(r.key.keyword, r.proposed, r.decision) for r in rows] == [
        ("beach", True, Decision.REJECTED), ("city", False, Decision.ACCEPTED)]
    assert [r.threshold for r in rows] == [0.5, 0.05]  # each label's own threshold, not the set's
    assert rows[0].probability == 0.7 and rows[0].label is SCENE.labels[0]
    assert accepted_keywords(rows) == ["city"]


def test_a_name_from_two_sets_is_shown_with_its_set_and_others_plain():
    from cliptagger.core.session.review_rows import ReviewRow, shown_names
    from cliptagger.core.tagging.labels import Label

    def row(label_set: str, label: Label) -> ReviewRow:
        return ReviewRow(TagKey(label_set, label.keyword), label, 0.6, 0.3, True, None)

    rows = [row("Shape", Label("star", parent="Shapes")), row("Mood", Label("Star")), row("Colour", Label("red"))]
    assert list(shown_names(rows).values()) == ["Shape: Shapes|star", "Mood: Star", "red"]
