"""The status bar's permanent widgets: counts, run progress with rate and ETA, errors, model."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtWidgets import QLabel, QProgressBar, QPushButton, QStatusBar

from cliptagger.core.tagging.durations import format_duration
from cliptagger.gui.wording import plural

if TYPE_CHECKING:
    from cliptagger.core.tagging.engine import Progress
    from cliptagger.gui.widgets.image_list import Counts


class StatusWidgets:
    def __init__(self, bar: QStatusBar, model_text: str) -> None:
        self.bar = bar
        self.model_label = QLabel()
        self.show_model(model_text)
        self.counts_label = QLabel("")
        self.rate_label = QLabel("")
        self.progress = QProgressBar()
        self.progress.setMaximumWidth(240)
        self.progress.hide()
        self.errors_button = QPushButton("0 errors")
        self.errors_button.setFlat(True)
        self.errors_button.hide()
        for widget in (self.counts_label, self.progress, self.rate_label, self.errors_button, self.model_label):
            bar.addPermanentWidget(widget)

    def show_model(self, text: str) -> None:
        """The model in a few words; how its precision was chosen (long) in the tooltip, so
        the status bar keeps room for messages."""
        self.model_label.setText(text.split(" (", 1)[0])
        self.model_label.setToolTip(text)

    def run_started(self, total: int) -> None:
        self.bar.clearMessage()  # e.g. "The model is loading; tagging starts when it is ready": true no more
        self.progress.setRange(0, total)
        self.progress.setValue(0)
        self.progress.show()
        self.rate_label.setText("starting…")

    def show_progress(self, progress: "Progress") -> None:
        self.progress.setMaximum(progress.total)
        self.progress.setValue(progress.done)
        self.rate_label.setText(f"{progress.images_per_s:.1f} img/s · ETA {format_duration(progress.eta_s)}")

    def stopping(self) -> None:
        self.rate_label.setText("stopping after this batch…")

    def run_finished(self) -> None:
        self.progress.hide()
        self.rate_label.setText("")

    def show_counts(self, counts: "Counts") -> None:
        self.counts_label.setText(f"{counts.photos} photos · {counts.tagged} tagged")
        errors = counts.errors + counts.not_written  # as many as Show Errors lists
        self.errors_button.setText(plural(errors, "error"))
        self.errors_button.setToolTip(f"{plural(counts.errors, 'photo')} could not be tagged, "
                                      f"{counts.not_written:,} not written. Click to list them.")
        self.errors_button.setStyleSheet("color: #c62828; font-weight: bold" if errors else "")
        self.errors_button.setVisible(bool(errors))  # "0 errors" on an empty window says nothing
