"""Accepting and rejecting proposals: one photo, a selection, everything above threshold.

A few photos are decided at once on the UI thread (the keyboard workflow must feel instant);
a selection of more than ``BULK_PHOTOS`` photos, and Accept All, are decided on the writer
thread (``WorkerClient.decide``): at 20,000 photos that is seconds of work the window does not
wait for, shown with a progress dialog (after ``PROGRESS_DELAY_MS``: no flash for a short one)
whose Cancel stops between chunks. ``reviewed`` tells the window when decisions changed
(counts, panel, re-learning).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Callable, Optional

from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal, Slot

from cliptagger.core.session.decisions import Decision, TagKey
from cliptagger.gui.widgets.decision_box import NEXT_DECISION
from cliptagger.gui.widgets.progress_dialog import ProgressDialog
from cliptagger.gui.wording import plural

if TYPE_CHECKING:
    from PySide6.QtWidgets import QTableView

    from cliptagger.gui.widgets.image_list import ImageListModel, ImageSortModel
    from cliptagger.gui.widgets.results_panel import ResultsPanel
    from cliptagger.gui.workers.tagging import BulkDecision, WorkerClient

#: More photos than this are decided off the UI thread.
BULK_PHOTOS = 500
#: A bulk decision shows its progress dialog once it has run this long.
PROGRESS_DELAY_MS = 400


DONE = {Decision.ACCEPTED: "Accepted", Decision.REJECTED: "Rejected", None: "Undecided"}
NUMBER_KEYS = {getattr(Qt, f"Key_{n}"): n for n in range(1, 10)}
DOING = {Decision.ACCEPTED: "Accepting", Decision.REJECTED: "Rejecting", None: "Undeciding"}


class ReviewController(QObject):
    reviewed = Signal()

    def __init__(self, images: "ImageListModel", sorted_rows: "ImageSortModel", table: "QTableView",
                 panel: "ResultsPanel", client: "WorkerClient", show_message: Callable[[str, int], None],
                 parent: Optional[QObject] = None) -> None:
        super().__init__(parent)
        self.images, self.sorted, self.table, self.panel = images, sorted_rows, table, panel
        self.client, self._show = client, show_message
        #: Bulk decisions sent to the writer thread and not finished yet.
        self.pending = 0
        self.progress: Optional[ProgressDialog] = None
        self._progress_timer = QTimer(self)
        self._progress_timer.setSingleShot(True)
        self._progress_timer.setInterval(PROGRESS_DELAY_MS)
        self._progress_timer.timeout.connect(self._show_progress)
        client.writer.decided.connect(self._bulk_done)
        client.writer.decide_progress.connect(self._bulk_progress)
        panel.decision.connect(self.decide_one)
        table.installEventFilter(self)

    def selected_paths(self) -> list[Path]:
        return self.sorted.paths_in(self.table.selectionModel().selection())

    def decide_selected(self, decision: Decision) -> None:
        """Accept or reject every proposal of the selected photos."""
        paths = self.selected_paths()
        if len(paths) > BULK_PHOTOS:
            self._send(f"{DOING[decision]} the proposals of {len(paths):,} photos…")
            self.client.decide(paths, decision)
            return
        self._done(f"{DONE[decision]} {plural(self.images.decide(paths, decision), 'tag')}.")

    def accept_all(self) -> None:
        """Accept every pending proposal; explicit rejections stay."""
        if len(self.images.paths) > BULK_PHOTOS:
            self._send(f"Accepting the pending proposals of {len(self.images.paths):,} photos…")
            self.client.accept_all()
            return
        count = self.images.accept_above_threshold()
        self._done(f"Accepted {plural(count, 'pending proposal')}; rejected tags stay rejected.")

    @Slot(object, object)
    def decide_one(self, key: TagKey, decision: Optional[Decision]) -> None:
        if self.panel.path is not None:
            self.images.decide([self.panel.path], decision, key)
            self._done("")

    def cycle_tag(self, number: int) -> None:
        """The current photo's ``number``-th tag in the panel (1-9): undecided, accepted,
        rejected, undecided again."""
        rows = self.panel.review_rows()
        if self.panel.path is None or not 1 <= number <= len(rows):
            self._show(f"No tag {number} on this photo." if self.panel.path is not None else "No photo selected.", 3000)
            return
        row = rows[number - 1]
        decision = NEXT_DECISION[row.decision]
        self.images.decide([self.panel.path], decision, row.key)
        self._done(f"{DONE[decision]} {row.key.keyword}.")

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        """Number keys 1-9 in the photo table decide the current photo's tags."""
        if watched is self.table and event.type() == QEvent.KeyPress and event.modifiers() in (
                Qt.NoModifier, Qt.KeypadModifier) and event.key() in NUMBER_KEYS:
            self.cycle_tag(NUMBER_KEYS[event.key()])
            return True
        return super().eventFilter(watched, event)

    def _send(self, message: str) -> None:
        self.pending += 1
        self._show(message, 0)
        self.progress = ProgressDialog(self.table.window(), "Deciding")
        self.progress.setLabelText(message)
        self.progress.canceled.connect(self.client.cancel_decisions)
        self._progress_timer.start()

    @Slot()
    def _show_progress(self) -> None:
        if self.progress is not None:
            self.progress.open()

    @Slot(int, int)
    def _bulk_progress(self, done: int, total: int) -> None:
        if self.progress is not None:
            self.progress.setRange(0, total)
            self.progress.setValue(done)

    @Slot(object)
    def _bulk_done(self, done: "BulkDecision") -> None:
        self.pending = max(0, self.pending - 1)
        self._progress_timer.stop()
        if self.progress is not None:
            self.progress.done(0)
            self.progress.deleteLater()
            self.progress = None
        if done.every_photo and not done.cancelled:
            self.images.refresh_all()
        else:
            self.images.refresh(done.paths)
        stopped = (f" Stopped after {len(done.paths):,} of {done.total:,} photos; the rest are unchanged."
                   if done.cancelled else "")
        if done.every_photo:
            self._done(f"Accepted {plural(done.changed, 'pending proposal')}; rejected tags stay rejected.{stopped}")
        else:
            self._done(f"{DONE[done.decision]} {plural(done.changed, 'tag')} of {plural(len(done.paths), 'photo')}.{stopped}")

    def _done(self, message: str) -> None:
        if message:
            self._show(message, 4000)
        self.reviewed.emit()
