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

from PySide6.QtCore import QObject, QTimer, Signal, Slot

from cliptagger.core.session.decisions import Decision, TagKey
from cliptagger.gui.widgets.progress_dialog import ProgressDialog

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

    def selected_paths(self) -> list[Path]:
        return self.sorted.paths_in(self.table.selectionModel().selection())

    def decide_selected(self, decision: Decision) -> None:
        """Accept or reject every proposal of the selected photos."""
        paths = self.selected_paths()
        if len(paths) > BULK_PHOTOS:
            self._send(f"{DOING[decision]} the proposals of {len(paths):,} photos…")
            self.client.decide(paths, decision)
            return
        self._done(f"{DONE[decision]} {self.images.decide(paths, decision)} tag(s).")

    def accept_all(self) -> None:
        """Accept every pending proposal; explicit rejections stay."""
        if len(self.images.paths) > BULK_PHOTOS:
            self._send(f"Accepting the pending proposals of {len(self.images.paths):,} photos…")
            self.client.accept_all()
            return
        count = self.images.accept_above_threshold()
        self._done(f"Accepted {count} pending proposal(s); rejected tags stay rejected.")

    @Slot(object, object)
    def decide_one(self, key: TagKey, decision: Optional[Decision]) -> None:
        if self.panel.path is not None:
            self.images.decide([self.panel.path], decision, key)
            self._done("")

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
            self._done(f"Accepted {done.changed} pending proposal(s); rejected tags stay rejected.{stopped}")
        else:
            self._done(f"{DONE[done.decision]} {done.changed} tag(s) of {len(done.paths):,} photos.{stopped}")

    def _done(self, message: str) -> None:
        if message:
            self._show(message, 4000)
        self.reviewed.emit()
