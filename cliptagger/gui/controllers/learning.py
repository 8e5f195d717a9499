"""Learning in the app: re-learn after accepts and rejects, and learn the library's keywords.

After each decision (debounced) the session re-learns its heads from the recorded examples
and re-scores every tagged photo from its embedding: no image is decoded or encoded again.
The work runs on the tagging thread, so it never overlaps a tagging run's scoring.
The target precision of the calibrated thresholds is a remembered setting (label set editor);
changing it re-learns every set the same way.
Tagging > Learn from Existing Keywords… tags the photos not tagged yet and reads the keywords
already in the listed photos under a progress dialog whose Cancel really stops the work, shows
what it found, and only then adds the "My keywords" labels.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Optional

from PySide6.QtCore import QObject, QTimer, Signal, Slot
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QInputDialog,
    QMessageBox,
)

from cliptagger.core.tagging.durations import format_duration
from cliptagger.gui.widgets.progress_dialog import ProgressDialog
from cliptagger.gui.wording import plural
from cliptagger.gui.workers.learning import LEARNING, TAGGING, KeywordsFound, LearnProgress, LearnWorker

if TYPE_CHECKING:
    from cliptagger.gui.main_window import MainWindow


class LearningController(QObject):
    #: Emitted on the UI thread once the heads were re-learned and the photos re-scored.
    relearned = Signal(int)
    #: Every photo's scores changed (the window shows the current photo again).
    scores_changed = Signal()
    keywords_learned = Signal(object)
    #: Emitted on the UI thread when Learn from Existing Keywords was cancelled (nothing added).
    keywords_cancelled = Signal()
    _relearn = Signal(object)
    _learn_keywords = Signal(object, int, bool, object)

    def __init__(self, window: "MainWindow") -> None:
        super().__init__(window)
        self.window = window
        self.session = window.session
        self.session.options.restore_decisions = True  # decisions survive a restart
        self.worker = LearnWorker(self.session)
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
        self._precision: Optional[float] = None  # a target precision to re-learn for
        self._cancel = threading.Event()
        self.progress_dialog: Optional[ProgressDialog] = None
        self.notice: Optional[QMessageBox] = None
        window.models.ready_changed.connect(self._model_ready)
        self.action = QAction("Learn from Existing Keywords…", window)
        self.action.setStatusTip("Turn the keywords your photos already have into labels that are learned")
        self.action.triggered.connect(self.learn_from_keywords)

    # ------------------------------------------------------------------ re-learning

    def decisions_changed(self) -> None:
        """A decision was made: re-learn shortly (bursts of ticks coalesce into one run)."""
        if self.session.model is not None:
            self._timer.start()

    def set_target_precision(self, value: float) -> None:
        """The calibrated thresholds aim for ``value`` from now on (remembered): re-learn every set."""
        self.window.settings.target_precision = value
        self._precision = value
        if self.session.model is not None:
            self._timer.start()

    @Slot(bool)
    def _model_ready(self, ready: bool) -> None:
        """Heads stored with another target precision (e.g. by the CLI) are fitted again for the app's."""
        learned, wanted = self.session.learned, self.window.settings.target_precision
        if ready and learned is not None and abs(learned.target_precision - wanted) > 1e-9:
            self.set_target_precision(wanted)

    @Slot()
    def _start(self) -> None:
        if self._busy:
            self._again = True
            return
        self._busy = True
        precision, self._precision = self._precision, None
        self._relearn.emit(precision)

    @Slot(object)
    def _relearned(self, heads: dict) -> None:
        self._busy = False
        self._refresh()
        used = sum(s.used for head in heads.values() for s in head.stats)
        if used:
            self.window.statusBar().showMessage(f"Learned from your decisions: {plural(used, 'label')} now {'uses' if used == 1 else 'use'} what "
                                                "you taught them.", 5000)
        self.relearned.emit(len(heads))
        if self._again:
            self._again = False
            self._timer.start()

    def _refresh(self) -> None:
        self.window.images.refresh_all()
        self.scores_changed.emit()

    # ------------------------------------------------------------------ existing keywords

    def learn_from_keywords(self) -> None:
        paths = list(self.window.images.paths)
        if not paths or self.session.model is None:
            self.window.statusBar().showMessage("Add photos and wait for the model first.", 5000)
            return
        minimum, ok = QInputDialog.getInt(
            self.window, "Learn from existing keywords",
            "A keyword becomes a learned label when at least this many photos have it:", 5, 1, 1_000_000)
        if not ok:
            return
        self._minimum = minimum
        self._start_keywords(paths, add=False)  # look first; add only what the user agrees to

    def _start_keywords(self, paths: list, add: bool) -> None:
        """Run one pass on the tagging thread under a progress dialog whose Cancel stops it."""
        self._cancel = threading.Event()
        dialog = ProgressDialog(self.window, "Learn from existing keywords")
        dialog.setLabelText("Adding the learned labels…" if add else "Looking at the photos…")
        dialog.canceled.connect(self.cancel_keywords)
        self.progress_dialog = dialog
        self._adding = add
        dialog.show()
        self.window.statusBar().showMessage("Learning from existing keywords…")
        self._learn_keywords.emit(paths, self._minimum, add, self._cancel)

    @Slot()
    def cancel_keywords(self) -> None:
        """Stop Learn from Existing Keywords: the session stops tagging or reading; nothing is added."""
        self._cancel.set()
        self.window.statusBar().showMessage("Stopping…")

    def _close_progress(self) -> None:
        if self.progress_dialog is not None:
            self.progress_dialog.canceled.disconnect(self.cancel_keywords)
            self.progress_dialog.hide()
            self.progress_dialog.deleteLater()
            self.progress_dialog = None

    @Slot(object)
    def _progress(self, progress: LearnProgress) -> None:
        stage, done, total, eta_s = progress.stage, progress.done, progress.total, progress.eta_s
        if stage == LEARNING:  # no count: a busy bar, not one stuck at 100%
            text = "Learning the labels from the keywords read (this can take a minute)…"
            if self.progress_dialog is not None:
                self.progress_dialog.setRange(0, 0)
                self.progress_dialog.setLabelText(text)
            self.window.statusBar().showMessage(f"Learning from existing keywords: {text}")
            return
        what = "Tagging the photos not tagged yet" if stage == TAGGING else "Reading the keywords of the photos"
        text = f"{what}: {done:,} of {total:,}" + (f", {format_duration(eta_s)} left" if eta_s and done < total else "")
        if self._cancel.is_set():
            text = "Stopping…"
        if self.progress_dialog is not None:
            self.progress_dialog.setRange(0, max(total, 1))
            self.progress_dialog.setValue(min(done, total))
            self.progress_dialog.setLabelText(text + "…" if not text.endswith("…") else text)
        self.window.statusBar().showMessage(f"Learning from existing keywords: {text}")

    def _tell(self, title: str, message: str) -> None:
        """Not modal: the message must not hold the window (or a test) up."""
        self.notice = QMessageBox(QMessageBox.Information, title, message, parent=self.window)
        self.notice.open()

    @Slot(object)
    def _keywords_found(self, found: KeywordsFound) -> None:
        report, added = found.report, found.added
        self._close_progress()
        if report.cancelled:
            self._refresh()  # the photos tagged before the cancel keep their results
            self.window.statusBar().showMessage("Learning from existing keywords was cancelled: nothing was added.",
                                                10000)
            self._tell("Learn from existing keywords", "Cancelled: no label was added and nothing was learned.")
            self.keywords_cancelled.emit()
            return
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
                f"{plural(len(report.labels), 'keyword')} {'is' if len(report.labels) == 1 else 'are'} on {self._minimum} or more photos:\n\n{listing}{more}\n\n"
                "Add them as learned labels (set \"My keywords\")?")
            if answer == QMessageBox.Yes:
                self._start_keywords(list(self.window.images.paths), add=True)
            else:
                self.window.statusBar().clearMessage()
            return
        self._refresh()
        used = sum(s.used for s in report.stats)
        late = " (too far along to cancel)" if self._cancel.is_set() else ""
        kept = len(report.labels) - len(report.new_labels)
        earlier = f" ({len(report.new_labels)} new; {kept} from earlier runs kept)" if kept > 0 else ""
        self.window.statusBar().showMessage(
            f"Learned {plural(len(report.labels), 'keyword')} into \"My keywords\"{earlier}{late}; {used} beat zero-shot on "
            "photos held out and are used.", 10000)
        self.keywords_learned.emit(report)

    @Slot(str)
    def _failed(self, message: str) -> None:
        self._busy = False
        self._close_progress()
        QMessageBox.warning(self.window, "cliptagger", message)
