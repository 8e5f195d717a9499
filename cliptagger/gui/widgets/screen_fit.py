"""Keep a window on the screen it opens on."""

from __future__ import annotations

from PySide6.QtWidgets import QWidget

MIN_WIDTH, MIN_HEIGHT = 200, 150


def fit_to_screen(window: QWidget) -> None:
    """Shrink and move ``window`` into its screen's available area. Saved on a larger screen,
    at another scale factor, or at a default size larger than the screen (1280x820 at
    ``QT_SCALE_FACTOR=2`` on a 1920x1080 screen), it would open with its buttons out of reach."""
    screen = window.screen().availableGeometry() if window.screen() is not None else None
    if screen is None or screen.isEmpty():
        return
    frame = window.frameGeometry()
    extra_w, extra_h = frame.width() - window.width(), frame.height() - window.height()
    width = min(window.width(), screen.width() - extra_w)
    height = min(window.height(), screen.height() - extra_h)
    if (width, height) != (window.width(), window.height()):
        window.resize(max(width, MIN_WIDTH), max(height, MIN_HEIGHT))
    frame = window.frameGeometry()
    left = min(max(frame.left(), screen.left()), screen.right() - frame.width() + 1)
    top = min(max(frame.top(), screen.top()), screen.bottom() - frame.height() + 1)
    if (left, top) != (frame.left(), frame.top()):
        window.move(left, top)
