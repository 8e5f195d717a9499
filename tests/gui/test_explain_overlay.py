"""Why this tag in the window: a click on a label's bar puts a heatmap over the preview,
computed off the UI thread; a second click, or another photo, takes it away; a second
look at the same label comes from the cache."""

from __future__ import annotations

import threading

from PySide6.QtCore import QPoint, Qt

from cliptagger.core.tagging import explain as core_explain
from cliptagger.gui.widgets.results_panel import PREVIEW_SIZE
from cliptagger.gui.workers import explain as explain_worker
from tests.test_gui import TIMEOUT_MS, add_and_run, select


def click_bar(qtbot, window, set_name: str, keyword: str) -> None:
    bars = window.panel.bars[set_name]
    row = [label for label, _ in bars.rows()].index(keyword)
    qtbot.mouseClick(bars, Qt.LeftButton, pos=QPoint(bars.width() // 2, 2 + row * bars.ROW_HEIGHT + bars.ROW_HEIGHT // 2))


def test_clicking_a_bar_overlays_a_heatmap_computed_off_the_ui_thread(qtbot, window, tmp_path, monkeypatch):
    threads: list[int] = []
    real = core_explain.explain_picture

    def recording(*args, **kwargs):
        threads.append(threading.get_ident())
        return real(*args, **kwargs)

    monkeypatch.setattr(explain_worker.explain, "explain_picture", recording)
    first, second = add_and_run(qtbot, window, tmp_path / "photos", count=2)
    select(window, first)
    # the full-size preview is in (it replaces the small one when it comes)
    qtbot.waitUntil(lambda: window.thumbnails.cached(first, PREVIEW_SIZE) is not None, timeout=TIMEOUT_MS)
    before = window.panel.preview.pixmap().toImage()
    controller = window.explain

    with qtbot.waitSignal(controller.overlay_changed, timeout=TIMEOUT_MS) as shown:
        click_bar(qtbot, window, "Shape", "Shapes|circle")
    assert shown.args[0] == (first, "Shape", "Shapes|circle", window.session.model_id)
    assert threads and threading.main_thread().ident not in threads  # the model work ran elsewhere
    overlaid = window.panel.preview.pixmap().toImage()
    assert overlaid != before
    window.panel.set_preview(window.thumbnails.cached(first, PREVIEW_SIZE))  # a preview arriving late
    window.explain.preview_shown(first)
    assert controller.shown == shown.args[0] and window.panel.preview.pixmap().toImage() == overlaid

    with qtbot.waitSignal(controller.overlay_changed, timeout=TIMEOUT_MS) as gone:
        click_bar(qtbot, window, "Shape", "Shapes|circle")  # the same bar again: off
    assert gone.args[0] is None and controller.shown is None
    assert window.panel.preview.pixmap().toImage() == before

    computed = len(threads)
    with qtbot.waitSignal(controller.overlay_changed, timeout=TIMEOUT_MS):
        click_bar(qtbot, window, "Shape", "Shapes|circle")  # from the cache this time
    assert len(threads) == computed and window.panel.preview.pixmap().toImage() == overlaid

    with qtbot.waitSignal(controller.overlay_changed, timeout=TIMEOUT_MS) as gone:
        select(window, second)  # another photo: the overlay goes
    assert gone.args[0] is None and controller.shown is None
