"""The cyclic GC is off while the model loads: a full collection in the middle of it held
Python's lock 0.2-0.3 s and froze the window (issue 17, item 8; benchmarks/startup.py)."""

from __future__ import annotations

import gc
import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from cliptagger.core.model import clip  # noqa: E402
from tests.test_gui import open_window  # noqa: E402


def test_no_collection_runs_while_the_model_loads_and_the_collector_is_back_after(qtbot, monkeypatch):
    seen = []
    real = clip.load_model

    def watched(*args, **kwargs):
        seen.append(gc.isenabled())
        model = real(*args, **kwargs)
        seen.append(gc.isenabled())
        return model

    monkeypatch.setattr(clip, "load_model", watched)
    assert gc.isenabled()
    window = open_window(qtbot)
    assert seen == [False, False] and gc.isenabled()
    window.client.shutdown()


def test_photos_added_and_results_of_a_run_are_kept_out_of_full_collections(qtbot, window, tmp_path):
    """Full passes over 20,000 results stopped the window 24-70 ms at a time (gc.callbacks in
    benchmarks/library_scale.py): what stays is frozen after an addition and after a run."""
    from tests.test_gui import TIMEOUT_MS, write_demo_folder

    write_demo_folder(tmp_path / "a", count=3, seed=2, size=64)
    before = gc.get_freeze_count()
    window.add_paths([tmp_path / "a"])
    qtbot.waitUntil(lambda: len(window.images.paths) == 3, timeout=TIMEOUT_MS)
    added = gc.get_freeze_count()
    assert added > before
    with qtbot.waitSignal(window.run_done, timeout=TIMEOUT_MS):
        window.actions.run.trigger()
    assert gc.get_freeze_count() > added and window.session.result(window.images.paths[0]) is not None
