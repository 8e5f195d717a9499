"""Learning in the app: re-learn after accepts and rejects, and learn the library's keywords.

After each decision (debounced) the session re-learns its heads from the recorded examples
and re-scores every tagged photo from its embedding: no image is decoded or encoded again.
The work runs on the tagging thread, so it never overlaps a tagging run's scoring.
Tagging > Learn from Existing Keywords… reads the keywords already in the listed photos,
shows what it found, and only then adds the "My keywords" labels.
"""

from __future__ import annotations

import traceback
from typing import TYPE_CHECKING, Optional

from PySide6.QtCore import QObject, QTimer, Signal, Slot
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QInputDialog, QMessageBox

if TYPE_CHECKING:
    from cliptagger.core.session import KeywordLearning, Session
    from cliptagger.gui.main_window import MainWindow


class _LearnWorker(QObject):
    relearned = Signal(object)                # {set name: SetHead}
    keywords_found = Signal(object, bool)     # KeywordLearning, whether its labels were added
    progress = Signal(int, int)
    failed = Signal(str)

    def __init__(self, session: "Session") -> None:
        super().__init__()
        self.session = session

    @Slot()
    def relearn(self) -> None:
        try:
            self.relearned.emit(self.session.relearn(changed_only=True))
        except Exception as err:  # learning must never take the app down
            traceback.print_exc()
            self.failed.emit(f"Learning from your decisions failed: {err}")

    @Slot(object, int, bool)
    def learn_keywords(self, paths: list, min_examples: int, add: bool) -> None:
        try:
            report = self.session.learn_from_keywords(
                paths, min_examples, add=add, progress=lambda p: self.progress.emit(p.done, p.total))
        except Exception as err:
            traceback.print_exc()
            self.failed.emit(f"Learning from the existing keywords failed: {err}")
            return
        self.keywords_found.emit(report, add)


class LearningController(QObject):
    #: Emitted on the UI thread once the heads were re-learned and the photos re-scored.
    relearned = Signal(int)
    keywords_learned = Signal(object)
    _relearn = Signal()
    _learn_keywords = Signal(object, int, bool)

    def __init__(self, window: "MainWindow") -> None:
        super().__init__(window)
        self.window = window
        self.session = window.session
        self.session.options.restore_decisions = True  # decisions survive a restart
        self.worker = _LearnWorker(self.session)
        self.worker.moveToThread(window.client.tagging_thread)
        self._relearn.connect(self.worker.relearn)
        self._learn_keywords.connect(self.worker.learn_keywords)
        self.worker.relearned.connect(self._relearned)
        self.worker.keywords_found.connect(self._keywords_found)
        self.worker.progress.connect(self._progress)
        self.worker.failed.connect(self._failed)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(300)
        self._timer.timeout.connect(self._start)
        self._busy = False
        self._again = False
        self.min_examples: Optional[int] = None  # None: ask (tests set it)
        self.confirm = True                      # False: add what was found without asking (tests)
        self.action = QAction("Learn from Existing Keywords…", window)
        self.action.setStatusTip("Turn the keywords your photos already have into labels that are learned")
        self.action.triggered.connect(self.learn_from_keywords)
        for item in window.menuBar().actions():
            if item.menu() is not None and item.text().replace("&", "") == "Tagging":
                item.menu().addSeparator()
                item.menu().addAction(self.action)

    # ------------------------------------------------------------------ re-learning

    def decisions_changed(self) -> None:
        """A decision was made: re-learn shortly (bursts of ticks coalesce into one run)."""
        if self.session.model is not None:
            self._timer.start()

    @Slot()
    def _start(self) -> None:
        if self._busy:
            self._again = True
            return
        self._busy = True
        self._relearn.emit()

    @Slot(object)
    def _relearned(self, heads: dict) -> None:
        self._busy = False
        self._refresh()
        used = sum(s.used for head in heads.values() for s in head.stats)
        if used:
            self.window.statusBar().showMessage(f"Learned from your decisions: {used} label(s) now use what "
                                                "you taught them.", 5000)
        self.relearned.emit(len(heads))
        if self._again:
            self._again = False
            self._timer.start()

    def _refresh(self) -> None:
        self.window.images.refresh_all()
        self.window._current_changed()

    # ------------------------------------------------------------------ existing keywords

    def learn_from_keywords(self) -> None:
        paths = list(self.window.images.paths)
        if not paths or self.session.model is None:
            self.window.statusBar().showMessage("Add photos and wait for the model first.", 5000)
            return
        minimum = self.min_examples
        if minimum is None:
            minimum, ok = QInputDialog.getInt(
                self.window, "Learn from existing keywords",
                "A keyword becomes a learned label when at least this many photos have it:", 5, 1, 1_000_000)
            if not ok:
                return
        self._minimum = minimum
        self.window.statusBar().showMessage("Reading the keywords of the photos (and tagging the rest)…")
        self._learn_keywords.emit(paths, minimum, not self.confirm)

    @Slot(int, int)
    def _progress(self, done: int, total: int) -> None:
        self.window.statusBar().showMessage(f"Learning from existing keywords: {done} of {total} photos…")

    @Slot(object, bool)
    def _keywords_found(self, report: "KeywordLearning", added: bool) -> None:
        if not report.labels:
            self.window.statusBar().showMessage(
                f"No keyword is on {self._minimum} or more of {report.photos} photos: nothing to learn.", 8000)
            return
        if not added:
            listing = "\n".join(f"  {k}: {report.counts[k]} photos" for k in report.labels[:30])
            more = f"\n  … and {len(report.labels) - 30} more" if len(report.labels) > 30 else ""
            answer = QMessageBox.question(
                self.window, "Learn from existing keywords",
                f"{report.photos_with_keywords} of {report.photos} photos have keywords. These "
                f"{len(report.labels)} keyword(s) are on {self._minimum} or more photos:\n\n{listing}{more}\n\n"
                "Add them as learned labels (set \"My keywords\")?")
            if answer == QMessageBox.Yes:
                self._learn_keywords.emit(list(self.window.images.paths), self._minimum, True)
            else:
                self.window.statusBar().clearMessage()
            return
        self._refresh()
        used = sum(s.used for s in report.stats)
        self.window.statusBar().showMessage(
            f"Learned {len(report.labels)} keyword(s) into \"My keywords\"; {used} beat zero-shot on photos "
            "held out and are used.", 10000)
        self.keywords_learned.emit(report)

    @Slot(str)
    def _failed(self, message: str) -> None:
        self._busy = False
        QMessageBox.warning(self.window, "cliptagger", message)
