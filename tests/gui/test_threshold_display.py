"""One threshold per bar, with its source and the reason a bar is not proposed; digits enough
to tell the side, always (issue 19, item 2)."""

from __future__ import annotations

import os

from hypothesis import given
from hypothesis import strategies as st

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from cliptagger.core.tagging.head_scoring import LabelThreshold, ThresholdSource  # noqa: E402
from cliptagger.gui.widgets.results_panel import (  # noqa: E402
    ProbabilityBars,
    not_proposed_reason,
    percent_text,
    threshold_text,
)

unit = st.floats(0, 1, allow_nan=False)


@given(probability=unit, threshold=unit)
def test_the_shown_probability_and_threshold_compare_as_the_real_ones(probability, threshold):
    shown_p = float(percent_text(probability, threshold).rstrip("%"))
    shown_t = float(threshold_text(threshold, probability).rstrip("%"))
    assert (shown_p >= shown_t) == (probability >= threshold), (percent_text(probability, threshold),
                                                                  threshold_text(threshold, probability))


def test_the_issues_case_reads_below_learned_threshold_with_both_digits():
    assert percent_text(0.995, 0.996) == "99.5%" and threshold_text(0.996, 0.995) == "99.6%"
    assert not_proposed_reason(0.995, LabelThreshold(0.996, ThresholdSource.LEARNED), 1) == \
        "below learned threshold 99.6%"
    assert threshold_text(0.9952, 0.9951) == "99.52%"  # one decimal would not tell the side
    assert not_proposed_reason(0.8, LabelThreshold(0.3, ThresholdSource.SET), 1) == \
        "other labels rank higher (the set picks one)"


def test_each_bar_has_its_own_threshold_and_says_why_it_is_not_proposed(qtbot):
    bars = ProbabilityBars()
    qtbot.addWidget(bars)
    thresholds = [LabelThreshold(0.996, ThresholdSource.LEARNED), LabelThreshold(0.3, ThresholdSource.SET),
                  LabelThreshold(0.9, ThresholdSource.YOURS)]
    bars.set_scores(["star", "circle", "square"], [0.995, 0.2, 0.95], {"square"}, thresholds, max_tags=2)
    assert bars.rows() == [("star", 0.995), ("square", 0.95), ("circle", 0.2)]
    assert bars.thresholds()["star"].source is ThresholdSource.LEARNED
    assert bars.row_tooltip(0) == "star: 99.5%; not proposed: below learned threshold 99.6%"
    assert bars.row_tooltip(1) == "square: 95%; proposed: at or above your threshold 90% (the dashed mark)"
    assert bars.row_tooltip(2) == "circle: 20%; not proposed: below the set's threshold 30%"
    assert bars.value_texts() == ["99.5%", "95%", "20%"]
    bars.resize(400, bars.sizeHint().height())
    bars.grab()  # paints every row's own mark without error
