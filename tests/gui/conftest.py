"""Fixtures of the GUI tests in this folder."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


@pytest.fixture
def window(qtbot):
    """An open, active main window with the demo model loaded; closed without asking after."""
    from tests.test_gui import closing_without_asking, open_window

    win = open_window(qtbot)
    win.activateWindow()
    yield win
    closing_without_asking(win)
    win.close()
