"""The status bar tells the current truth: "the model is loading" goes once tagging runs (issue 17, item 8)."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from cliptagger.core.media.scan import ScanResult  # noqa: E402
from cliptagger.core.media.synthetic import write_demo_folder  # noqa: E402
from cliptagger.gui.main_window import MainWindow  # noqa: E402
from cliptagger.settings import Settings  # noqa: E402
from cliptagger.user_label_sets import demo_label_sets  # noqa: E402
from tests.gui_helpers import closing_without_asking  # noqa: E402

TIMEOUT_MS = 120_000


def test_run_pressed_while_the_model_loads_says_so_and_the_message_goes_when_tagging_starts(qtbot, tmp_path):
    photos = [path for path, _ in write_demo_folder(tmp_path / "a", count=2, seed=5, size=64)]
    window = MainWindow(Settings(model="demo", device="cpu"), demo_label_sets())
    qtbot.addWidget(window, before_close_func=closing_without_asking)
    window.show()
    # in this same event-loop turn: the model's "ready" (a queued signal) cannot have arrived yet
    window.intake._scanned(ScanResult(images=photos))  # what a drop does once its scan is done
    assert window.images.paths == photos and not window.models.ready
    window.run()
    assert "model is loading" in window.statusBar().currentMessage()
    qtbot.waitUntil(lambda: window.running, timeout=TIMEOUT_MS)  # started by the model's arrival
    assert "model is loading" not in window.statusBar().currentMessage()
    qtbot.waitUntil(lambda: not window.running, timeout=TIMEOUT_MS)


def test_closing_while_the_model_loads_hides_the_window_at_once(qtbot):
    """The process may wait for a model load it cannot interrupt; the window must not."""
    window = MainWindow(Settings(model="demo", device="cpu"), demo_label_sets())
    window.show()
    hidden_before_threads_stopped = []
    real_shutdown = window.client.shutdown
    window.client.shutdown = lambda: (hidden_before_threads_stopped.append(window.isHidden()), real_shutdown())
    assert not window.models.ready  # still loading in this event-loop turn
    window.close()
    assert hidden_before_threads_stopped == [True]
