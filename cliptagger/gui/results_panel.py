"""The right-hand panel: preview, per-label probability bars, proposals to accept or reject."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Optional

from PySide6.QtCore import QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QFont, QPainter, QPalette, QPen, QPixmap
from PySide6.QtWidgets import (
    QCheckBox,
    QFrame,
    QGroupBox,
    QLabel,
    QScrollArea,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from cliptagger.core.review import Decision, TagKey
from cliptagger.core.scoring import display_percent

if TYPE_CHECKING:
    from cliptagger.core.session import ReviewRow, Session

PREVIEW_SIZE = 280
ACCENT = QColor("#1f6fd1")
MUTED = QColor("#9aa5b1")
THRESHOLD = QColor("#e65100")
PLACEHOLDER = "Drop a folder of photos here,\nor use File ▸ Add Folder (Ctrl+O)."


class ProbabilityBars(QWidget):
    """Sorted horizontal bars, one per label, with the set's threshold marked."""

    ROW_HEIGHT = 20

    def __init__(self, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self._rows: list[tuple[str, float, bool]] = []
        self._threshold = 0.0
        self.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Fixed)

    def set_scores(self, labels: list[str], probabilities: list[float], proposed: set[str], threshold: float) -> None:
        rows = sorted(zip(labels, probabilities), key=lambda pair: -pair[1])
        self._rows = [(label, float(p), label in proposed) for label, p in rows]
        self._threshold = threshold
        self.setFixedHeight(max(1, len(self._rows)) * self.ROW_HEIGHT + 4)
        self.update()

    def rows(self) -> list[tuple[str, float]]:
        """What is drawn, most probable first (the tests read this)."""
        return [(label, p) for label, p, _ in self._rows]

    def value_texts(self) -> list[str]:
        """The numbers as drawn beside the bars."""
        return [display_percent(p, self._threshold) for _, p, _ in self._rows]

    def sizeHint(self) -> QSize:
        return QSize(320, len(self._rows) * self.ROW_HEIGHT + 4)

    def paintEvent(self, _event) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.Antialiasing)
        label_width = min(150, int(self.width() * 0.4))
        value_width = 58
        bar_left = label_width + 6
        bar_width = max(10, self.width() - bar_left - value_width - 4)
        text_colour = self.palette().color(QPalette.WindowText)
        track = self.palette().color(QPalette.Mid)
        track.setAlpha(60)
        for row, ((label, probability, proposed), value) in enumerate(zip(self._rows, self.value_texts())):
            top = 2 + row * self.ROW_HEIGHT
            font = QFont(self.font())
            font.setBold(proposed)
            painter.setFont(font)
            painter.setPen(text_colour)
            painter.drawText(QRectF(0, top, label_width, self.ROW_HEIGHT), Qt.AlignVCenter | Qt.AlignRight,
                             painter.fontMetrics().elidedText(label.split("|")[-1], Qt.ElideRight, label_width))
            painter.setPen(Qt.NoPen)
            painter.setBrush(track)
            painter.drawRoundedRect(QRectF(bar_left, top + 4, bar_width, self.ROW_HEIGHT - 8), 3, 3)
            painter.setBrush(ACCENT if proposed else MUTED)
            painter.drawRoundedRect(QRectF(bar_left, top + 4, bar_width * probability, self.ROW_HEIGHT - 8), 3, 3)
            painter.setPen(text_colour)
            painter.drawText(QRectF(bar_left + bar_width + 4, top, value_width, self.ROW_HEIGHT),
                             Qt.AlignVCenter | Qt.AlignLeft, value)
        if self._rows:
            x = bar_left + bar_width * self._threshold
            painter.setPen(QPen(THRESHOLD, 1.5, Qt.DashLine))
            painter.drawLine(int(x), 0, int(x), self.height())
        painter.end()


class ResultsPanel(QScrollArea):
    """Shows the selected photo; emits ``decision(TagKey, Decision or None)`` on a tick."""

    decision = Signal(object, object)

    def __init__(self, session: "Session", parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.session = session
        self.setWidgetResizable(True)
        self.setFrameShape(QFrame.NoFrame)
        body = QWidget()
        self._layout = QVBoxLayout(body)
        self._layout.setAlignment(Qt.AlignTop)
        self.preview = QLabel()
        self.preview.setAlignment(Qt.AlignCenter)
        self.preview.setMinimumSize(PREVIEW_SIZE, 200)
        self.title = QLabel()
        self.title.setWordWrap(True)
        self.title.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.status_line = QLabel()
        self.status_line.setWordWrap(True)
        self._layout.addWidget(self.preview)
        self._layout.addWidget(self.title)
        self._layout.addWidget(self.status_line)
        self.proposals_box = QGroupBox("Proposed tags (tick to accept, untick to reject)")
        self.proposals_layout = QVBoxLayout(self.proposals_box)
        self._layout.addWidget(self.proposals_box)
        self.sets_container = QWidget()
        self.sets_layout = QVBoxLayout(self.sets_container)
        self.sets_layout.setContentsMargins(0, 0, 0, 0)
        self._layout.addWidget(self.sets_container)
        self.existing_box = QGroupBox("Keywords already in the sidecar or file")
        self.existing_label = QLabel()
        self.existing_label.setWordWrap(True)
        QVBoxLayout(self.existing_box).addWidget(self.existing_label)
        self._layout.addWidget(self.existing_box)
        self.setWidget(body)
        self.bars: dict[str, ProbabilityBars] = {}
        self.boxes: dict[TagKey, QCheckBox] = {}
        self.path: Optional[Path] = None
        self.show_photo(None)

    def set_preview(self, pixmap: Optional[QPixmap]) -> None:
        if pixmap is None:
            return
        self.preview.setStyleSheet("")
        self.preview.setPixmap(pixmap.scaled(PREVIEW_SIZE, PREVIEW_SIZE, Qt.KeepAspectRatio, Qt.SmoothTransformation))

    def _show_placeholder(self, path: Optional[Path], status: str) -> None:
        """The drop hint with nothing selected; for a photo, what stands in until its preview comes."""
        self.preview.clear()
        if path is None:
            self.preview.setText(PLACEHOLDER)
        else:
            self.preview.setText("No preview: the file could not be read." if status == "error" else "Loading preview…")
        self.preview.setStyleSheet("QLabel { color: #7a7a7a; border: 2px dashed #c0c7cf; border-radius: 8px; }")

    def show_photo(self, path: Optional[Path], status: str = "") -> None:
        """Show ``path`` (None: nothing selected, the drop hint instead)."""
        if path != self.path or path is None:
            self._show_placeholder(path, status)
        self.path = path
        _clear(self.proposals_layout)
        _clear(self.sets_layout)
        self.bars, self.boxes = {}, {}
        result = self.session.result(path) if path is not None else None
        failure = self.session.failure(path) if path is not None else ""
        self.proposals_box.setVisible(result is not None)
        self.existing_box.setVisible(path is not None and not failure)
        if path is None:
            self.title.setText("")
            self.status_line.setText("")
            return
        self.title.setText(f"<b>{path.name}</b><br><span style='color:#7a7a7a'>{path.parent}</span>")
        if failure:
            self.status_line.setText(f"<span style='color:#c62828'>Could not be tagged: {failure}</span>")
        elif result is None:
            self.status_line.setText("Not tagged yet: press Run (F5).")
        else:
            self.status_line.setText("Accepted tags are in the sidecar." if status == "written" else "")
        existing = self.session.known_existing_keywords(path)
        self.existing_label.setText("(reading…)" if existing is None else ", ".join(existing) or "(none)")
        if result is None:
            return
        self._show_review(self.session.review_rows(path))
        for scores in result.scores:
            label_set = scores.label_set
            mode = "pick one" if label_set.mode.value == "exclusive" else "any number"
            group = QGroupBox(f"{label_set.name}  ({mode}, threshold {label_set.threshold:.0%})")
            bars = ProbabilityBars()
            bars.set_scores([l.keyword for l in label_set.labels], scores.probabilities,
                            {p.keyword for p in scores.proposals}, label_set.threshold)
            QVBoxLayout(group).addWidget(bars)
            self.sets_layout.addWidget(group)
            self.bars[label_set.name] = bars

    def _show_review(self, rows: "list[ReviewRow]") -> None:
        if not rows:
            self.proposals_layout.addWidget(QLabel("No label is above its set's threshold."))
        repeated = {k for k, n in Counter(row.key.keyword for row in rows).items() if n > 1}
        for row in rows:
            name = f"{row.key.label_set}: {row.key.keyword}" if row.key.keyword in repeated else row.key.keyword
            note = "" if row.proposed else "   (below threshold)"
            text = f"{name}   {display_percent(row.probability, row.threshold)}{note}"
            if row.decision is Decision.REJECTED:
                text += "   ✗ rejected"
            stat = self.session.label_stats(row.key)  # what learning made of the user's decisions
            if stat is not None and (stat.positives or stat.negatives):
                zero = self.session.zero_shot_probability(self.path, row.key) if stat.used else None
                text += f"   · {stat.summary()}" + (f" (zero-shot {zero:.0%})" if zero is not None else "")
            box = QCheckBox(text)
            box.setChecked(row.decision is Decision.ACCEPTED)
            box.setToolTip("Ticked: accepted. Unticked after a decision: rejected (never written).")
            box.toggled.connect(lambda on, key=row.key: self.decision.emit(
                key, Decision.ACCEPTED if on else Decision.REJECTED))
            self.proposals_layout.addWidget(box)
            self.boxes[row.key] = box


def _clear(layout) -> None:
    while layout.count():
        child = layout.takeAt(0)
        widget = child.widget()
        if widget is not None:
            widget.hide()  # deleteLater alone leaves it painted until the next event loop pass
            widget.setParent(None)
            widget.deleteLater()
