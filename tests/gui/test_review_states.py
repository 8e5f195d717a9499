"""Three review states for a tag, and a way back to undecided from the panel (issue 19, item 7)."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from cliptagger.core.session.decisions import Decision  # noqa: E402
from tests.test_gui import TIMEOUT_MS, add_and_run  # noqa: E402


def test_a_decided_tag_goes_back_to_undecided_from_its_menu(qtbot, window, tmp_path):
    add_and_run(qtbot, window, tmp_path / "a", 1)
    window.table.selectRow(0)
    qtbot.waitUntil(lambda: bool(window.panel.boxes), timeout=TIMEOUT_MS)
    path, key = window.panel.path, window.panel.review_rows()[0].key
    window.panel.boxes[key].setChecked(True)
    assert window.session.review.get(path).get(key) is Decision.ACCEPTED
    model_id = window.session.model_id

    def stored():
        return window.session.examples().counts(model_id).get((key.label_set, key.keyword), (0, 0))

    assert stored() == (1, 0)
    actions = {a.text(): a for a in window.panel.decision_menu(key).actions()}
    assert list(actions) == ["Accept", "Reject", "Undecided (forget my decision)"]
    actions["Reject"].trigger()
    assert window.session.review.get(path).get(key) is Decision.REJECTED and stored() == (0, 1)
    actions["Undecided (forget my decision)"].trigger()
    assert window.session.review.get(path).get(key) is None
    qtbot.waitUntil(lambda: key in window.panel.boxes and not window.panel.boxes[key].isChecked(), timeout=TIMEOUT_MS)
    assert "rejected" not in window.panel.boxes[key].text()
    assert stored() == (0, 0)  # the example is forgotten, not kept as a reject


def test_a_click_cycles_undecided_accepted_rejected_undecided_and_the_tick_shows_each(qtbot, window, tmp_path):
    """The tick has three states and clicking it walks the same cycle as the number keys."""
    from PySide6.QtCore import Qt

    add_and_run(qtbot, window, tmp_path / "a", 1)
    window.table.selectRow(0)
    qtbot.waitUntil(lambda: bool(window.panel.boxes), timeout=TIMEOUT_MS)
    path, key = window.panel.path, window.panel.review_rows()[0].key
    seen = []
    for expected, state in ((Decision.ACCEPTED, Qt.Checked), (Decision.REJECTED, Qt.PartiallyChecked),
                            (None, Qt.Unchecked)):
        # each decision (and each keyword read in the background) builds the panel anew: click()
        # is the tick's own click, which a rebuild just before it cannot swallow as a mouse event can
        qtbot.waitUntil(lambda: key in window.panel.boxes, timeout=TIMEOUT_MS)
        window.panel.boxes[key].click()
        assert window.session.review.get(path).get(key) is expected
        qtbot.waitUntil(lambda s=state: Qt.CheckState(window.panel.boxes[key].checkState()) == s, timeout=TIMEOUT_MS)
        seen.append(window.panel.boxes[key].decision())
    assert seen == [Decision.ACCEPTED, Decision.REJECTED, None]
