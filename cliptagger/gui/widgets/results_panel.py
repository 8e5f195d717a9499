"""The right-hand panel: preview, the photo's own keywords, proposals to accept or reject,
per-label probability bars (with zero-shot's beside a learned label's).

Nothing in it is wider than the panel: long notes wrap, so it never scrolls sideways."""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Optional

from PySide6.QtCore import QPoint, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QFont, QPainter, QPalette, QPen, QPixmap
from PySide6.QtWidgets import (
    QFrame,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QMenu,
    QScrollArea,
    QSizePolicy,
    QStyle,
    QVBoxLayout,
    QWidget,
)

from cliptagger.core.session.decisions import Decision, TagKey
from cliptagger.core.session.review_rows import shown_names
from cliptagger.core.tagging.head_scoring import LabelThreshold, ThresholdSource
from cliptagger.core.tagging.labels import LabelSet, Mode
from cliptagger.gui.widgets.decision_box import DecisionBox

if TYPE_CHECKING:
    from cliptagger.core.session.facade import ReviewRow, Session

PREVIEW_SIZE = 280
ACCENT = QColor("#1f6fd1")
MUTED = QColor("#9aa5b1")
THRESHOLD = QColor("#e65100")
ZERO_SHOT = QColor("#37474f")
NOTE_STYLE = "color: #6b7785"
PLACEHOLDER = "Drop a folder of photos here,\nor use File ▸ Add Folder (Ctrl+O)."
NOTHING_SELECTED = "No photo selected.\nPick one in the list (Up/Down), or drop more photos here."


def percent_text(probability: float, threshold: Optional[float] = None) -> str:
    """``probability`` as a percentage with one decimal at most: whole when that is clear,
    and always on the right side of ``threshold``: when rounding would cross it, rounded
    away from it instead (0.7321 against 0.7322 reads "73.2%", against 0.7320 "73.3%"), and
    nothing short of 1 reads "100%"."""
    value = probability * 100
    above = threshold is None or probability >= threshold
    for decimals in (0, 1):
        shown = round(value, decimals)
        if (threshold is None or (shown >= threshold * 100) == above) and not (shown >= 100 and probability < 1):
            return f"{shown:.{decimals}f}%"
    shown = (math.ceil(value * 10) if above else math.floor(value * 10)) / 10
    return f"{min(shown, 99.9) if probability < 1 else shown:.1f}%"


def threshold_text(threshold: float, probability: float) -> str:
    """``threshold`` as a percentage with digits enough that it reads on the right side of
    ``probability`` as ``percent_text`` shows it: 99.5% is "below threshold 99.6%", never
    "below threshold 100%" or "99% (below threshold 99%)"."""
    shown = float(percent_text(probability, threshold).rstrip("%"))
    for decimals in range(1, 5):
        value = round(threshold * 100, decimals)
        if (shown >= value) == (probability >= threshold) and not (value >= 100 and threshold < 1):
            return f"{value:.{decimals}f}".rstrip("0").rstrip(".") + "%"
    # a hair from 100% or from the probability: the probability's own text, or just above it
    return f"{shown:g}%" if probability >= threshold else f"{min(100.0, round(shown + 0.1, 1)):g}%"


def not_proposed_reason(probability: float, threshold: LabelThreshold, max_tags: int) -> str:
    """Why a label at ``probability`` is not proposed, in words."""
    if probability < threshold.value:
        return f"below {threshold.source.value} threshold {threshold_text(threshold.value, probability)}"
    return "other labels rank higher" + (" (the set picks one)" if max_tags == 1 else f" (at most {max_tags})")


class ProbabilityBars(QWidget):
    """Sorted horizontal bars, one per label, each with its own threshold marked on it (the
    set's, a learned one, or yours: the tooltip says which, and why a bar is not proposed); a
    learned label's zero-shot probability is a dark tick on its bar (and in its tooltip)."""

    ROW_HEIGHT = 20
    #: A click on a bar: its label (the window shows where that label's score comes from).
    label_clicked = Signal(str)

    def __init__(self, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self._rows: list[tuple[str, float, bool]] = []
        self._thresholds: dict[str, LabelThreshold] = {}
        self._max_tags = 1
        self._zero_shot: dict[str, float] = {}
        self.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Fixed)
        self.setMouseTracking(True)

    def set_scores(self, labels: list[str], probabilities: list[float], proposed: set[str],
                   thresholds: list[LabelThreshold], zero_shot: Optional[dict[str, float]] = None,
                   max_tags: int = 1) -> None:
        """``thresholds``: each label's in force, in ``labels`` order; ``zero_shot``: by label,
        zero-shot's probability where a learned head is used."""
        rows = sorted(zip(labels, probabilities), key=lambda pair: -pair[1])
        self._rows = [(label, float(p), label in proposed) for label, p in rows]
        self._thresholds = dict(zip(labels, thresholds))
        self._max_tags = max_tags
        self._zero_shot = dict(zero_shot or {})
        self.setFixedHeight(max(1, len(self._rows)) * self.ROW_HEIGHT + 4)
        self.update()

    def rows(self) -> list[tuple[str, float]]:
        """What is drawn, most probable first (the tests read this)."""
        return [(label, p) for label, p, _ in self._rows]

    def zero_shot(self) -> dict[str, float]:
        """The zero-shot probabilities marked on the bars of learned labels."""
        return dict(self._zero_shot)

    def thresholds(self) -> dict[str, LabelThreshold]:
        """Each label's threshold, as marked on its bar."""
        return dict(self._thresholds)

    def value_texts(self) -> list[str]:
        """The numbers as drawn beside the bars."""
        return [percent_text(p, self._thresholds[label].value) for label, p, _ in self._rows]

    def row_tooltip(self, row: int) -> str:
        label, probability, proposed = self._rows[row]
        threshold = self._thresholds[label]
        zero = self._zero_shot.get(label)
        value = percent_text(probability, threshold.value)
        text = f"{label}: {value}" if zero is None else \
            f"{label}: learned {value}, zero-shot {percent_text(zero)} (the dark tick)"
        if proposed:
            return f"{text}; proposed: at or above {threshold.source.value} threshold " \
                   f"{threshold_text(threshold.value, probability)} (the dashed mark)"
        return f"{text}; not proposed: {not_proposed_reason(probability, threshold, self._max_tags)}"

    def mouseMoveEvent(self, event) -> None:
        row = int((event.position().y() - 2) // self.ROW_HEIGHT)
        self.setToolTip(self.row_tooltip(row) if 0 <= row < len(self._rows) else "")
        super().mouseMoveEvent(event)

    def mousePressEvent(self, event) -> None:
        row = int((event.position().y() - 2) // self.ROW_HEIGHT)
        if event.button() == Qt.LeftButton and 0 <= row < len(self._rows):
            self.label_clicked.emit(self._rows[row][0])
        super().mousePressEvent(event)

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
            zero = self._zero_shot.get(label)
            if zero is not None:  # where zero-shot had it, beside the learned bar
                painter.setPen(QPen(ZERO_SHOT, 2.5))
                x = bar_left + bar_width * zero
                painter.drawLine(int(x), top + 1, int(x), top + self.ROW_HEIGHT - 1)
            # this label's own threshold, on its own bar
            painter.setPen(QPen(THRESHOLD, 1.5, Qt.DashLine))
            x = bar_left + bar_width * self._thresholds[label].value
            painter.drawLine(int(x), top, int(x), top + self.ROW_HEIGHT)
            painter.setPen(text_colour)
            painter.drawText(QRectF(bar_left + bar_width + 4, top, value_width, self.ROW_HEIGHT),
                             Qt.AlignVCenter | Qt.AlignLeft, value)
        painter.end()


class ResultsPanel(QScrollArea):
    """Shows the selected photo; emits ``decision(TagKey, Decision or None)`` on a tick."""

    decision = Signal(object, object)
    #: (label set name, keyword) of a clicked bar (``controllers/explain.py`` answers it).
    label_clicked = Signal(str, str)

    def __init__(self, session: "Session", parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.session = session
        self._rows: "list[ReviewRow]" = []
        self._sets_shown: dict[str, LabelSet] = {}  # the label sets of the photo shown, by name
        #: The widget Tab comes from (the photo table): the tag boxes follow it in the tab order.
        self.tab_from: Optional[QWidget] = None
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
        _never_wider(self.title)  # a long folder path is cut, never a sideways scroll (full path: tooltip)
        # The keywords the photo already has, right under its name: what to compare the proposals with.
        self.existing_box = QWidget()
        existing_layout = QHBoxLayout(self.existing_box)
        existing_layout.setContentsMargins(0, 0, 0, 0)
        caption = QLabel("Already has:")
        caption.setToolTip("Keywords already in the photo's sidecar or embedded metadata")
        caption.setStyleSheet("font-weight: bold")
        caption.setAlignment(Qt.AlignTop | Qt.AlignLeft)
        self.existing_label = QLabel()
        self.existing_label.setTextFormat(Qt.PlainText)  # keywords are text, never markup
        self.existing_label.setWordWrap(True)
        self.existing_label.setTextInteractionFlags(Qt.TextSelectableByMouse)
        _never_wider(self.existing_label)
        existing_layout.addWidget(caption, 0, Qt.AlignTop)
        existing_layout.addWidget(self.existing_label, 1)
        self.status_line = QLabel()
        self.status_line.setWordWrap(True)
        _never_wider(self.status_line)
        self._layout.addWidget(self.preview)
        self._layout.addWidget(self.title)
        self._layout.addWidget(self.existing_box)
        self._layout.addWidget(self.status_line)
        self.proposals_box = QGroupBox("Proposed tags (click: accept, reject, undecided)")
        self.proposals_layout = QVBoxLayout(self.proposals_box)
        self._layout.addWidget(self.proposals_box)
        self.sets_container = QWidget()
        self.sets_layout = QVBoxLayout(self.sets_container)
        self.sets_layout.setContentsMargins(0, 0, 0, 0)
        self._layout.addWidget(self.sets_container)
        self.setWidget(body)
        self.bars: dict[str, ProbabilityBars] = {}
        self.boxes: dict[TagKey, DecisionBox] = {}
        #: Under a learned label's tick box: learned and zero-shot side by side, and what it learned from.
        self.notes: dict[TagKey, QLabel] = {}
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
        if path is None:  # with photos in the list (all hidden by a search, or none selected): say so
            self.preview.setText(PLACEHOLDER if not self.session.counts().photos else NOTHING_SELECTED)
        else:
            self.preview.setText("No preview: the file could not be read." if status == "error" else "Loading preview…")
        self.preview.setStyleSheet("QLabel { color: #7a7a7a; border: 2px dashed #c0c7cf; border-radius: 8px; }")

    def show_photo(self, path: Optional[Path], status: str = "") -> None:
        """Show ``path`` (None: nothing selected, the drop hint instead)."""
        if path != self.path or path is None:
            self._show_placeholder(path, status)
        # a tag decided with Space keeps the focus on that tag when the panel is shown again
        focused = next((k for k, box in self.boxes.items() if box.hasFocus()), None) if path == self.path else None
        self.path = path
        _clear(self.proposals_layout)
        _clear(self.sets_layout)
        self.bars, self.boxes, self.notes = {}, {}, {}
        self._rows = []
        result = self.session.result(path) if path is not None else None
        failure = self.session.failure(path) if path is not None else ""
        self.proposals_box.setVisible(result is not None)
        self.existing_box.setVisible(path is not None and not failure)
        if path is None:
            self.title.setText("")
            self.status_line.setText("")
            return
        self.title.setText(f"<b>{path.name}</b><br><span style='color:#7a7a7a'>{path.parent}</span>")
        self.title.setToolTip(str(path))
        if failure:
            self.status_line.setText(f"<span style='color:#c62828'>Could not be tagged: {failure}</span>")
        elif result is None:
            self.status_line.setText("Not tagged yet: press Run (F5).")
        else:
            self.status_line.setText("Accepted tags are written (in the sidecar or the photo, as Tags for chose)." if status == "written" else "")
        existing = self.session.known_existing_keywords(path)
        text = "(reading…)" if existing is None else ", ".join(existing) or "(none)"
        problems = self.session.sidecars.problems(path)  # an unreadable sidecar is not "(none)"
        self.existing_label.setText("\n".join([text] + [f"⚠ {problem}" for problem in problems]))
        self.existing_label.setStyleSheet("color: #c62828" if problems else "")
        if result is None:
            return
        self._sets_shown = {s.label_set.name: s.label_set for s in result.scores}
        self._show_review(self.session.review_rows(path))
        if focused in self.boxes:
            self.boxes[focused].show()  # the layout shows new widgets later; focus needs it now
            self.boxes[focused].setFocus()
        for scores in result.scores:
            label_set = scores.label_set
            mode = "pick one" if label_set.mode.value == "exclusive" else "any number"
            zero_shot = self._zero_shot(path, label_set.name, [l.keyword for l in label_set.labels])
            thresholds = self.session.learner.thresholds_with_sources(label_set)
            own = any(t.source is not ThresholdSource.SET for t in thresholds)
            group = QGroupBox(f"{label_set.name}  ({mode}, threshold {percent_text(label_set.threshold)})")
            bars = ProbabilityBars()
            bars.set_scores([l.keyword for l in label_set.labels], scores.probabilities,
                            {p.keyword for p in scores.proposals}, thresholds, zero_shot, label_set.max_tags)
            layout = QVBoxLayout(group)
            layout.addWidget(bars)
            bars.label_clicked.connect(lambda keyword, name=label_set.name: self.label_clicked.emit(name, keyword))
            legend = "; ".join(["dashes: each label's own threshold (learned or yours)"] * own
                               + ["dark tick: zero-shot"] * bool(zero_shot))
            if legend:  # wrapped under the bars: a title never wraps, and must not widen the panel
                layout.addWidget(_note(legend.capitalize() + ". Hover a bar for why it is or is not proposed."))
            self.sets_layout.addWidget(group)
            self.bars[label_set.name] = bars

    def _zero_shot(self, path: Path, set_name: str, keywords: list[str]) -> dict[str, float]:
        """Zero-shot's probability of each label whose learned head is used (the others are zero-shot)."""
        found = {}
        for keyword in keywords:
            key = TagKey(set_name, keyword)
            stat = self.session.label_stats(key)
            if stat is not None and stat.used:
                zero = self.session.zero_shot_probability(path, key)
                if zero is not None:
                    found[keyword] = zero
        return found

    def review_rows(self) -> "list[ReviewRow]":
        """The tags shown for the current photo, numbered 1, 2, ... in the panel."""
        return list(self._rows)

    def _show_review(self, rows: "list[ReviewRow]") -> None:
        self._rows = list(rows)
        if not rows:
            self.proposals_layout.addWidget(QLabel("No label is above its set's threshold."))
        names = shown_names(rows)

        for row in rows:
            name = names[row.key]
            threshold = LabelThreshold(row.threshold, row.threshold_source)
            shown_set = self._sets_shown.get(row.key.label_set)
            max_tags = shown_set.max_tags if shown_set is not None else 1
            note = "" if row.proposed else f"   ({not_proposed_reason(row.probability, threshold, max_tags)})"
            number = len(self.boxes) + 1
            text = (f"{number}  " if number <= 9 else "") + f"{name}   {percent_text(row.probability, row.threshold)}{note}"
            if row.decision is Decision.REJECTED:
                text += "   ✗ rejected"
            box = DecisionBox(text, row.decision)
            box.setToolTip("Empty: undecided. ✓ accepted (written). – rejected (never written). A click or Space: "
                           "accept, reject, undecided again; right-click picks one."
                           + (f" Key {number} in the photo list does the same." if number <= 9 else ""))
            box.decided.connect(lambda decision, key=row.key: self.decision.emit(key, decision))
            box.setContextMenuPolicy(Qt.CustomContextMenu)
            box.customContextMenuRequested.connect(lambda at, key=row.key, b=box: self._decision_menu(key, b, at))
            self.proposals_layout.addWidget(box)
            self.boxes[row.key] = box
            learned = self._learning_note(row)
            if learned:  # its own wrapped line: a long note never widens the panel
                label = _note(learned)
                label.setIndent(box.style().pixelMetric(QStyle.PixelMetric.PM_IndicatorWidth) + 6)
                label.setToolTip(learned)
                self.proposals_layout.addWidget(label)
                self.notes[row.key] = label
        chain = [self.tab_from, *self.boxes.values()] if self.tab_from is not None else []
        for before, after in zip(chain, chain[1:]):  # Tab: table, then the tags in their order
            QWidget.setTabOrder(before, after)

    def decision_menu(self, key: TagKey) -> QMenu:
        """Accept / Reject / Undecided for one tag: the way back to undecided (a tick cannot)."""
        menu = QMenu(self)
        for text, decision in (("Accept", Decision.ACCEPTED), ("Reject", Decision.REJECTED),
                               ("Undecided (forget my decision)", None)):
            menu.addAction(text, lambda d=decision: self.decision.emit(key, d))
        return menu

    def _decision_menu(self, key: TagKey, box: DecisionBox, at: QPoint) -> None:
        self.decision_menu(key).popup(box.mapToGlobal(at))

    def _learning_note(self, row: "ReviewRow") -> str:
        """What learning made of the user's decisions for this label; with a used head, the
        learned and the zero-shot probability side by side."""
        stat = self.session.label_stats(row.key)
        if stat is None or not (stat.positives or stat.negatives):
            return ""
        zero = self.session.zero_shot_probability(self.path, row.key) if stat.used else None
        # the label's own, calibrated or yours, with digits enough to tell the side
        threshold = f"{row.threshold_source.value} threshold {threshold_text(row.threshold, row.probability)}"
        shown_set = self._sets_shown.get(row.key.label_set)
        if shown_set is not None and shown_set.mode is Mode.EXCLUSIVE and stat.negatives:  # why ✗ counts more than the rejects
            threshold += " · ✗ counts photos you gave another label of this pick-one set"
        if zero is None:
            return f"{threshold} · {stat.summary()}"
        return (f"learned {percent_text(row.probability, row.threshold)} · zero-shot {percent_text(zero)}"
                f" · {threshold} · {stat.summary()}")


def _note(text: str) -> QLabel:
    """A grey note that wraps within the panel's width."""
    label = QLabel(text)
    label.setWordWrap(True)
    label.setStyleSheet(NOTE_STYLE)
    _never_wider(label)
    return label


def _never_wider(label: QLabel) -> None:
    """The label takes the panel's width and wraps (or cuts) its text, never the other way round."""
    policy = label.sizePolicy()
    policy.setHorizontalPolicy(QSizePolicy.Ignored)
    label.setSizePolicy(policy)


def _clear(layout) -> None:
    while layout.count():
        child = layout.takeAt(0)
        widget = child.widget()
        if widget is not None:
            widget.hide()  # deleteLater alone leaves it painted until the next event loop pass
            widget.setParent(None)
            widget.deleteLater()
