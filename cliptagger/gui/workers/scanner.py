"""Scanning dropped folders off the UI thread (a network share can take a while)."""

from __future__ import annotations

from typing import Optional

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal


class _Signals(QObject):
    done = Signal(object)  # core.media.scan.ScanResult


class _ScanJob(QRunnable):
    def __init__(self, inputs: list, signals: _Signals) -> None:
        super().__init__()
        self.inputs, self.signals = inputs, signals

    def run(self) -> None:
        from cliptagger.core.media.scan import scan

        result = scan(self.inputs)
        self.signals.done.emit(result)


class FolderScanner(QObject):
    #: A ``core.media.scan.ScanResult``: the photos found and what was skipped, with why.
    scanned = Signal(object)

    def __init__(self, parent: Optional[QObject] = None) -> None:
        super().__init__(parent)
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(1)  # one scan after another keeps the list order
        self._signals = _Signals()
        self._signals.done.connect(self.scanned)

    def scan(self, inputs: list) -> None:
        self.pool.start(_ScanJob(list(inputs), self._signals))

    def shutdown(self) -> None:
        self.pool.waitForDone(5000)
