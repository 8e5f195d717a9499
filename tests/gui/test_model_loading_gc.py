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
