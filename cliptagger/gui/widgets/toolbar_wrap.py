"""Two toolbars on one row while they fit, on two rows when the window is too narrow.

Qt hides what does not fit in a toolbar behind "»" (at 1280 px the Sidecars choice, at 1024
the Device choice too). The choices toolbar goes to a row of its own instead.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject
from PySide6.QtWidgets import QMainWindow, QToolBar


class ToolbarWrap(QObject):
    def __init__(self, window: QMainWindow, first: QToolBar, second: QToolBar) -> None:
        super().__init__(window)
        self.window, self.first, self.second = window, first, second
        window.installEventFilter(self)
        self.fit()

    def needs_two_rows(self) -> bool:
        return self.first.sizeHint().width() + self.second.sizeHint().width() > self.window.width()

    def fit(self) -> None:
        two_rows = self.needs_two_rows()
        if two_rows and not self.window.toolBarBreak(self.second):
            self.window.insertToolBarBreak(self.second)
        elif not two_rows and self.window.toolBarBreak(self.second):
            self.window.removeToolBarBreak(self.second)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.window and event.type() == QEvent.Resize:
            self.fit()
        return False
