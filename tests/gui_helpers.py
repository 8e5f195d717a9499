"""Helpers for tests that open the app's window."""

from __future__ import annotations

from cliptagger.gui.main_window import MainWindow


def closing_without_asking(window: MainWindow) -> None:
    """The test is over: closing must not ask about unwritten tags."""
    window.sidecars.settle_unwritten = lambda *_args: True  # type: ignore[method-assign]
