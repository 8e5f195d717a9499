"""Library scale in the app: what the UI thread does per interaction is counted (not timed)
with 2,000 and 20,000 synthetic photos, and must not grow with the library."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import QDialogButtonBox

from cliptagger.core.session.decisions import Decision
from cliptagger.gui.main_window import MainWindow
from cliptagger.gui.workers.thumbnails import ThumbnailLoader, pixmap_bytes
from cliptagger.settings import Settings
from cliptagger.user_label_sets import demo_label_sets
from tests.core.session.scenes import library, scored
from tests.gui_helpers import closing_without_asking

TIMEOUT_MS = 60_000


def window_with(qtbot, count: int) -> MainWindow:
    win = MainWindow(Settings(model="demo", device="cpu"), demo_label_sets())
    qtbot.addWidget(win, before_close_func=closing_without_asking)
    win.show()
    qtbot.waitUntil(lambda: win.models.ready, timeout=TIMEOUT_MS)
    win.session.options.record_examples = False  # synthetic results have no embedding to learn from
    paths = library(count)
    win.images.add_paths(paths)
    probabilities = [(0.7, 0.2, 0.1), (0.1, 0.6, 0.3), (0.2, 0.3, 0.5)]
    for index, path in enumerate(paths):  # as if tagged: results straight into the session
        win.session.photos.store(scored(path, probabilities[index % 3]))
    win.images.refresh_all()
    win.flush_counts()
    qtbot.waitUntil(lambda: not win.sorted.keys_pending(), timeout=TIMEOUT_MS)  # as a user pauses
    return win


def count_work(win: MainWindow, monkeypatch) -> dict[str, int]:
    work = {"review_rows": 0}
    real = win.session.review_rows

    def counting(path):
        work["review_rows"] += 1
        return real(path)

    monkeypatch.setattr(win.session, "review_rows", counting)
    return work


def interact(qtbot, win: MainWindow, work: dict[str, int]) -> dict[str, int]:
    """Each interaction of the issue, with the work it cost (keys computed, by the sort or in
    the background after it, review rows built)."""
    costs: dict[str, int] = {}

    def measure(name, action):
        work["review_rows"] = 0
        keys_before = win.sorted.keys_computed
        action()
        win.flush_counts()
        qtbot.waitUntil(lambda: not win.sorted.keys_pending(), timeout=TIMEOUT_MS)
        costs[f"{name}: review rows"] = work["review_rows"]
        costs[f"{name}: keys"] = win.sorted.keys_computed - keys_before

    # every key was computed in the background while the photos came in: a sort computes none
    measure("first sort by each column", lambda: [win.table.sortByColumn(c, Qt.AscendingOrder) for c in (1, 2, 0)])
    measure("re-sort every column", lambda: [win.table.sortByColumn(c, Qt.DescendingOrder) for c in (1, 2, 0)])
    win.table.setFocus()
    win.table.selectRow(5)
    measure("down arrow x5", lambda: [qtbot.keyClick(win.table, Qt.Key_Down) for _ in range(5)])
    measure("accept one photo", lambda: win.images.decide([win.sorted.path_at(10)], Decision.ACCEPTED))
    measure("sort by tags after it", lambda: win.table.sortByColumn(2, Qt.AscendingOrder))
    shown = {win.sorted.path_at(r) for r in range(20)}
    measure("search shows 20", lambda: win.sorted.show_only(shown))
    measure("Esc shows all", lambda: win.sorted.show_only(None))
    measure("counts and actions", win.flush_counts)
    return costs


@pytest.mark.parametrize("count", [2_000, 20_000])
def test_every_interaction_costs_the_same_at_2k_and_20k(qtbot, monkeypatch, count):
    win = window_with(qtbot, count)
    work = count_work(win, monkeypatch)
    visible_rows = win.table.viewport().height() // win.table.verticalHeader().defaultSectionSize() + 1
    try:
        costs = interact(qtbot, win, work)
    finally:
        closing_without_asking(win)
        win.close()
    # nothing is re-keyed by sorting, moving, filtering; a decision re-keys its own row only
    assert costs["first sort by each column: keys"] == 0
    assert costs["re-sort every column: keys"] == 0 and costs["re-sort every column: review rows"] == 0
    assert costs["down arrow x5: keys"] == 0 and costs["down arrow x5: review rows"] <= 5 * 4
    assert costs["accept one photo: keys"] == 3  # its row, for each column filled in the background
    assert costs["sort by tags after it: keys"] == 0
    assert costs["search shows 20: keys"] == 0 and costs["Esc shows all: keys"] == 0
    assert costs["counts and actions: review rows"] == 0
    # its proposals, what is accepted, and the repaints of the rows on screen (never the library)
    assert costs["accept one photo: review rows"] <= 4 + 2 * visible_rows
    test_every_interaction_costs_the_same_at_2k_and_20k.costs[count] = costs  # type: ignore[attr-defined]


test_every_interaction_costs_the_same_at_2k_and_20k.costs = {}  # type: ignore[attr-defined]


def test_the_costs_at_2k_and_20k_are_equal():
    costs = test_every_interaction_costs_the_same_at_2k_and_20k.costs  # type: ignore[attr-defined]
    if set(costs) != {2_000, 20_000}:
        pytest.skip("runs after the two measurements")
    assert costs[2_000] == costs[20_000]


def test_thumbnails_stay_under_their_byte_budget_and_clear_frees_them(qapp):
    one = QPixmap.fromImage(QImage(64, 64, QImage.Format_RGB32))
    loader = ThumbnailLoader(memory_bytes=10 * pixmap_bytes(one))
    from pathlib import Path

    for index in range(50):
        key = (Path(f"/p/{index}.jpg"), 64)
        loader._pending.add(key)  # as if requested
        loader._on_ready(key[0], 64, QImage(64, 64, QImage.Format_RGB32))
    assert loader.memory_used <= 10 * pixmap_bytes(one) and len(loader._memory) == 10
    assert loader.cached(Path("/p/49.jpg"), 64) is not None and loader.cached(Path("/p/0.jpg"), 64) is None
    loader.forget()
    assert loader.memory_used == 0 and loader.cached(Path("/p/49.jpg"), 64) is None
    loader.shutdown()


def test_the_selection_gives_its_photos_in_table_order(qtbot):
    from PySide6.QtCore import QItemSelectionModel

    win = window_with(qtbot, 50)
    try:
        win.table.sortByColumn(0, Qt.DescendingOrder)
        win.table.selectRow(0)
        model = win.table.selectionModel()
        for row in (1, 2, 10):
            model.select(win.sorted.index(row, 0), QItemSelectionModel.Select | QItemSelectionModel.Rows)
        expected = [win.sorted.path_at(r) for r in (0, 1, 2, 10)]
        assert win.selected_paths() == expected
        assert expected == sorted(expected, key=lambda p: p.name, reverse=True)
        win.table.selectAll()
        assert len(win.selected_paths()) == 50
    finally:
        closing_without_asking(win)
        win.close()


def test_accepting_thousands_of_photos_runs_off_the_ui_thread(qtbot):
    import threading

    from cliptagger.gui.controllers.review import BULK_PHOTOS

    win = window_with(qtbot, BULK_PHOTOS * 2)
    threads = []
    real = win.session.decide

    def recording(*args, **kwargs):
        threads.append(threading.current_thread() is threading.main_thread())
        return real(*args, **kwargs)

    win.session.decide = recording  # type: ignore[method-assign]
    try:
        win.table.selectAll()
        with qtbot.waitSignal(win.review.reviewed, timeout=TIMEOUT_MS):
            win.actions.accept.trigger()
            assert win.review.pending == 1  # sent, the window goes on
        assert threads and not any(threads)  # decided on the writer thread, a chunk at a time
        assert win.session.counts().unwritten == BULK_PHOTOS * 2
        assert "Accepted" in win.statusBar().currentMessage()
        win.table.selectRow(0)
        win.actions.reject.trigger()  # one photo: at once, on the UI thread
        assert threads[-1] is True and win.session.counts().unwritten == BULK_PHOTOS * 2 - 1
    finally:
        closing_without_asking(win)
        win.close()


def test_a_bulk_decision_shows_progress_and_cancel_keeps_the_rest_unchanged(qtbot):
    import threading

    from cliptagger.gui.controllers.review import BULK_PHOTOS
    from cliptagger.gui.workers.tagging import DECISION_CHUNK

    total = DECISION_CHUNK * 3
    assert total > BULK_PHOTOS
    win = window_with(qtbot, total)
    release, calls = threading.Event(), []
    real = win.session.decide

    def held_first_chunk(paths, *args, **kwargs):  # the user has time to press Cancel
        calls.append(len(paths))
        if len(calls) == 1:
            release.wait(TIMEOUT_MS / 1000)
        return real(paths, *args, **kwargs)

    win.session.decide = held_first_chunk  # type: ignore[method-assign]
    try:
        win.table.selectAll()
        win.actions.accept.trigger()
        qtbot.waitUntil(lambda: win.review.progress is not None and win.review.progress.isVisible(),
                        timeout=TIMEOUT_MS)
        assert "1,500 photos" in win.review.progress.labelText()
        with qtbot.waitSignal(win.review.reviewed, timeout=TIMEOUT_MS):
            win.review.progress.buttons.button(QDialogButtonBox.Cancel).click()
            release.set()
        assert calls == [DECISION_CHUNK]  # stopped after the chunk in flight
        assert win.session.counts().unwritten == DECISION_CHUNK  # those stay decided, the rest unchanged
        assert f"Stopped after {DECISION_CHUNK} of {total:,} photos" in win.statusBar().currentMessage()
        assert win.review.progress is None and win.review.pending == 0
        win.table.selectAll()  # the next bulk decision is not cancelled by the last one's Cancel
        with qtbot.waitSignal(win.review.reviewed, timeout=TIMEOUT_MS):
            win.actions.accept.trigger()
        assert win.session.counts().unwritten == total
    finally:
        release.set()
        closing_without_asking(win)
        win.close()
