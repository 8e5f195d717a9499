"""The keyboard workflow of a photo manager (issue 19, item 3), driven with key events only:
Tab leaves the table, focus stays where the user left it after Add and Run, number keys and
Space decide one tag, and Ctrl+Z / Ctrl+A act on photos when the search box is empty."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import Qt  # noqa: E402
from PySide6.QtTest import QTest  # noqa: E402
from PySide6.QtWidgets import QApplication, QTextBrowser  # noqa: E402

from tests.test_gui import TIMEOUT_MS, add_and_run, run_to_end  # noqa: E402


def focused():
    return QApplication.focusWidget()


def test_focus_stays_on_the_table_through_add_and_run(qtbot, window, tmp_path):
    paths = add_and_run(qtbot, window, tmp_path / "a", 3)
    window.table.setFocus()
    QTest.keyClick(window.table, Qt.Key_Down)
    assert focused() is window.table
    window.add_paths([tmp_path / "a"])  # nothing new, but an add all the same
    from cliptagger.core.media.synthetic import write_demo_folder
    write_demo_folder(tmp_path / "b", count=2, seed=3)
    window.add_paths([tmp_path / "b"])
    qtbot.waitUntil(lambda: len(window.images.paths) == 5, timeout=TIMEOUT_MS)
    assert focused() is window.table
    run_to_end(qtbot, window)
    assert focused() is window.table, focused()
    before = window.table.currentIndex().row()
    QTest.keyClick(window.table, Qt.Key_Down)
    assert window.table.currentIndex().row() == before + 1
    assert len(paths) == 3


def test_a_new_window_starts_with_the_table_focused_and_tab_leaves_it(qtbot, window, tmp_path):
    add_and_run(qtbot, window, tmp_path / "a", 2)
    assert focused() is window.table, focused()
    QTest.keyClick(window.table, Qt.Key_Tab)
    assert focused() is not window.table and window.panel.isAncestorOf(focused()), focused()


def test_number_keys_cycle_a_tag_through_accepted_rejected_and_undecided(qtbot, window, tmp_path):
    from cliptagger.core.session.decisions import Decision

    paths = add_and_run(qtbot, window, tmp_path / "a", 2)
    window.table.setFocus()
    window.table.selectRow(0)
    path = window.panel.path
    qtbot.waitUntil(lambda: window.panel.review_rows() != [], timeout=TIMEOUT_MS)
    first = window.panel.review_rows()[0].key
    assert window.panel.boxes[first].text().startswith("1  ")
    seen = []
    for _ in range(3):
        QTest.keyClick(window.table, Qt.Key_1)
        seen.append(window.session.review.get(path).get(first))
    assert seen == [Decision.ACCEPTED, Decision.REJECTED, None]
    assert focused() is window.table and window.panel.path == path  # the key did not move anything
    QTest.keyClick(window.table, Qt.Key_9)  # no ninth tag: a message, nothing decided
    assert "No tag 9" in window.statusBar().currentMessage()
    assert len(paths) == 2


def test_tab_goes_to_the_tags_and_space_ticks_one(qtbot, window, tmp_path):
    from cliptagger.core.session.decisions import Decision

    add_and_run(qtbot, window, tmp_path / "a", 1)
    window.table.setFocus()
    window.table.selectRow(0)
    qtbot.waitUntil(lambda: window.panel.review_rows() != [], timeout=TIMEOUT_MS)
    QTest.keyClick(window.table, Qt.Key_Tab)
    first = window.panel.review_rows()[0].key
    assert focused() is window.panel.boxes[first]
    seen = []
    for _ in range(3):  # Space walks accepted, rejected, undecided; the focus stays on that tag
        QTest.keyClick(focused(), Qt.Key_Space)
        seen.append(window.session.review.get(window.panel.path).get(first))
        assert focused() is window.panel.boxes[first]
    assert seen == [Decision.ACCEPTED, Decision.REJECTED, None]


def test_an_empty_search_box_passes_photo_keys_on(qtbot, window, tmp_path):
    add_and_run(qtbot, window, tmp_path / "a", 3)
    window.search.edit.setFocus()
    QTest.keyClick(window.search.edit, Qt.Key_A, Qt.ControlModifier)
    assert focused() is window.table and len(window.table.selectionModel().selectedRows()) == 3
    window.search.edit.setFocus()
    QTest.keyClick(window.search.edit, Qt.Key_Down)
    assert focused() is window.table

    window.actions.accept_all.trigger()
    qtbot.waitUntil(lambda: window.session.counts().unwritten == 3, timeout=TIMEOUT_MS)
    with qtbot.waitSignal(window.sidecars.write_finished, timeout=TIMEOUT_MS):
        window.actions.write.trigger()
    assert list((tmp_path / "a").glob("*.xmp"))
    window.search.edit.setFocus()
    with qtbot.waitSignal(window.sidecars.undo_finished, timeout=TIMEOUT_MS):
        QTest.keyClick(window.search.edit, Qt.Key_Z, Qt.ControlModifier)  # the last write, not the box
    assert not list((tmp_path / "a").glob("*.xmp"))

    window.search.edit.setFocus()
    QTest.keyClicks(window.search.edit, "red")
    QTest.keyClick(window.search.edit, Qt.Key_A, Qt.ControlModifier)  # with text: the box's own
    assert focused() is window.search.edit and window.search.edit.selectedText() == "red"
    QTest.keyClick(window.search.edit, Qt.Key_End)  # a plain key: Qt forgets Ctrl (it would toggle later selections)


def test_help_lists_every_shortcut_and_the_review_keys(qtbot, window):
    window.show_help()
    text = window.help_dialog.findChild(QTextBrowser).toPlainText()
    for action in (window.actions.run, window.actions.write, window.actions.undo, window.actions.accept):
        assert action.shortcut().toString() in text, action.text()
    assert "1 … 9" in text and "Learning." in text and "Search." in text
    window.help_dialog.close()
