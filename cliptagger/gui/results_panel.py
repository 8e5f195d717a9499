"""The right-hand panel: preview, per-label probability bars, proposals to accept or reject."""

from __future__ import annotations

from typing import Optional

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

from cliptagger.gui.image_list import ImageItem, Status

PREVIEW_SIZE = 280
ACCENT = QColor("#1f6fd1")
MUTED = QColor("#9aa5b1")
THRESHOLD = QColor("#e65100")


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

    def sizeHint(self) -> QSize:
        return QSize(320, len(self._rows) * self.ROW_HEIGHT + 4)

    def paintEvent(self, _event) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.Antialiasing)
        label_width = min(150, int(self.width() * 0.4))
        value_width = 44
        bar_left = label_width + 6
        bar_width = max(10, self.width() - bar_left - value_width - 4)
        text_colour = self.palette().color(QPalette.WindowText)
        track = self.palette().color(QPalette.Mid)
        track.setAlpha(60)
        for row, (label, probability, proposed) in enumerate(self._rows):
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
                             Qt.AlignVCenter | Qt.AlignLeft, f"{probability:.0%}")
        if self._rows:
            x = bar_left + bar_width * self._threshold
            painter.setPen(QPen(THRESHOLD, 1.5, Qt.DashLine))
            painter.drawLine(int(x), 0, int(x), self.height())
        painter.end()


class ResultsPanel(QScrollArea):
    """Shows the selected image; emits ``decision(keyword, accepted)`` when a box is ticked."""

    decision = Signal(str, bool)

    def __init__(self, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.setWidgetResizable(True)
        self.setFrameShape(QFrame.NoFrame)
        body = QWidget()
        self._layout = QVBoxLayout(body)
        self._layout.setAlignment(Qt.AlignTop)
        self.preview = QLabel("Drop a folder of photos here,\nor use File ▸ Add Folder (Ctrl+O).")
        self.preview.setAlignment(Qt.AlignCenter)
        self.preview.setMinimumSize(PREVIEW_SIZE, 200)
        self.preview.setStyleSheet("QLabel { color: #7a7a7a; border: 2px dashed #c0c7cf; border-radius: 8px; }")
        self.title = QLabel()
        self.title.setWordWrap(True)
        self.title.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.status_line = QLabel()
        self.status_line.setWordWrap(True)
        self._layout.addWidget(self.preview)
        self._layout.addWidget(self.title)
        self._layout.addWidget(self.status_line)
        self.proposals_box = QGroupBox("Proposed tags (tick to accept)")
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
        self.item: Optional[ImageItem] = None
        self.show_item(None)

    def set_preview(self, pixmap: Optional[QPixmap]) -> None:
        if pixmap is None:
            return
        self.preview.setStyleSheet("")
        self.preview.setPixmap(pixmap.scaled(PREVIEW_SIZE, PREVIEW_SIZE, Qt.KeepAspectRatio, Qt.SmoothTransformation))

    def show_item(self, item: Optional[ImageItem]) -> None:
        self.item = item
        _clear(self.proposals_layout)
        _clear(self.sets_layout)
        self.bars = {}
        has_result = item is not None and item.result is not None
        self.proposals_box.setVisible(has_result)
        self.existing_box.setVisible(item is not None and item.status is not Status.ERROR)
        if item is None:
            self.title.setText("")
            self.status_line.setText("")
            return
        self.title.setText(f"<b>{item.path.name}</b><br><span style='color:#7a7a7a'>{item.path.parent}</span>")
        if item.status is Status.ERROR:
            self.status_line.setText(f"<span style='color:#c62828'>Could not be tagged: {item.error}</span>")
        elif item.status is Status.QUEUED:
            self.status_line.setText("Not tagged yet: press Run (F5).")
        else:
            self.status_line.setText("Tags written to the sidecar." if item.status is Status.WRITTEN else "")
        self.existing_label.setText(", ".join(item.existing) if item.existing else "(none)")
        if not has_result:
            return
        if not item.proposals:
            self.proposals_layout.addWidget(QLabel("No label is above its set's threshold."))
        for proposal in item.proposals:
            box = QCheckBox(f"{proposal.keyword}   {proposal.probability:.0%}")
            box.setChecked(item.decisions.get(proposal.keyword) is True)
            box.toggled.connect(lambda on, k=proposal.keyword: self.decision.emit(k, on))
            self.proposals_layout.addWidget(box)
        for scores in item.result.scores:
            label_set = scores.label_set
            mode = "pick one" if label_set.mode.value == "exclusive" else "any number"
            group = QGroupBox(f"{label_set.name}  ({mode}, threshold {label_set.threshold:.0%})")
            bars = ProbabilityBars()
            bars.set_scores([l.keyword for l in label_set.labels], scores.probabilities,
                            {p.keyword for p in scores.proposals}, label_set.threshold)
            QVBoxLayout(group).addWidget(bars)
            self.sets_layout.addWidget(group)
            self.bars[label_set.name] = bars


def _clear(layout) -> None:
    while layout.count():
        child = layout.takeAt(0)
        widget = child.widget()
        if widget is not None:
            widget.hide()  # deleteLater alone leaves it painted until the next event loop pass
            widget.setParent(None)
            widget.deleteLater()
