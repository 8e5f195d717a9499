"""The list of photos: a Qt item model over the core session.

The session holds results, failures and review decisions; this model holds only what is
the window's own (row order, thumbnails) and turns the session's state into rows. Review
changes go through its methods (``decide``, ``accept_above_threshold``), which update the
session and repaint the rows, so the window never sets item fields itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Optional

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
    Signal,
)
from PySide6.QtGui import QColor, QPixmap

from cliptagger.core.session.decisions import Decision, TagKey
from cliptagger.gui.results_panel import percent_text

if TYPE_CHECKING:
    from cliptagger.core.session.facade import Session


class Status(str, Enum):
    QUEUED = "to tag"  # added, not run yet ("queued" read as if something were already running)
    TAGGED = "tagged"
    ERROR = "error"
    WRITTEN = "written"


STATUS_COLOURS = {
    Status.QUEUED: QColor("#7a7a7a"),
    Status.TAGGED: QColor("#1f6fd1"),
    Status.ERROR: QColor("#c62828"),
    Status.WRITTEN: QColor("#2e7d32"),
}

#: Qt.UserRole: the row's path (tests and the window use it to map rows to photos).
PATH_ROLE = Qt.UserRole
#: The similarity to the active search (shown, and hidden with it, by gui.search_bar).
SCORE_COLUMN = 3


@dataclass(frozen=True)
class Counts:
    photos: int
    tagged: int
    errors: int


class ImageListModel(QAbstractTableModel):
    COLUMNS = ("Image", "Status", "Proposed tags", "Score")
    counts_changed = Signal()

    def __init__(self, session: "Session", parent=None) -> None:
        super().__init__(parent)
        self.session = session
        self.paths: list[Path] = []
        self._rows: dict[Path, int] = {}
        self._thumbnails: dict[Path, QPixmap] = {}
        #: Photo -> similarity to the active search (None: no search).
        self.search_scores: Optional[dict[Path, float]] = None

    # ---------------------------------------------------------------- Qt model API

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.paths)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.DisplayRole) -> Any:
        if orientation == Qt.Horizontal and role == Qt.DisplayRole:
            return self.COLUMNS[section]
        return None

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.DisplayRole) -> Any:
        if not index.isValid():
            return None
        path = self.paths[index.row()]
        column = index.column()
        if role == Qt.DisplayRole:
            if column == 0:
                return path.name
            if column == 1:
                return self.status(path).value
            if column == 2:
                return self.tags_text(path)
            if column == SCORE_COLUMN:
                score = (self.search_scores or {}).get(path)
                return "" if score is None else f"{score:.3f}"
        if role == Qt.DecorationRole and column == 0:
            return self._thumbnails.get(path)
        if role == Qt.ToolTipRole:
            failure = self.session.failure(path)
            return f"{path}\n{failure}" if failure else str(path)
        if role == Qt.ForegroundRole and column == 1:
            return STATUS_COLOURS[self.status(path)]
        if role == PATH_ROLE:
            return path
        return None

    # ---------------------------------------------------------------- what a row shows

    def status(self, path: Path) -> Status:
        if self.session.failure(path):
            return Status.ERROR
        if self.session.result(path) is None:
            return Status.QUEUED
        return Status.WRITTEN if self.session.is_written(path) else Status.TAGGED

    def tags_text(self, path: Path) -> str:
        failure = self.session.failure(path)
        if failure:
            return failure
        parts = []
        for row in self.session.review_rows(path):
            mark = {Decision.ACCEPTED: "✓ ", Decision.REJECTED: "✗ "}.get(row.decision, "")
            parts.append(f"{mark}{row.key.keyword} {percent_text(row.probability, row.threshold)}")
        return ",  ".join(parts)

    # ---------------------------------------------------------------- list edits

    def add_paths(self, paths: Iterable[Path]) -> list[Path]:
        """Append photos not in the list yet; returns the ones added."""
        new = [p for p in dict.fromkeys(Path(p) for p in paths) if p not in self._rows]
        if not new:
            return []
        self.session.add(new)
        start = len(self.paths)
        self.beginInsertRows(QModelIndex(), start, start + len(new) - 1)
        for offset, path in enumerate(new):
            self._rows[path] = start + offset
            self.paths.append(path)
        self.endInsertRows()
        self.counts_changed.emit()
        return new

    def clear(self) -> None:
        self.beginResetModel()
        self.session.remove_all()
        self.paths.clear()
        self._rows.clear()
        self._thumbnails.clear()
        self.endResetModel()
        self.counts_changed.emit()

    def row_of(self, path: Path) -> Optional[int]:
        return self._rows.get(Path(path))

    def refresh(self, paths: Iterable[Path]) -> None:
        """Repaint these photos' rows (their state changed in the session)."""
        for path in paths:
            row = self._rows.get(Path(path))
            if row is not None:
                self.dataChanged.emit(self.index(row, 0), self.index(row, len(self.COLUMNS) - 1))
        self.counts_changed.emit()

    def refresh_all(self) -> None:
        if self.paths:
            self.dataChanged.emit(self.index(0, 0), self.index(len(self.paths) - 1, len(self.COLUMNS) - 1))
        self.counts_changed.emit()

    def set_thumbnail(self, path: Path, pixmap: QPixmap) -> None:
        row = self._rows.get(Path(path))
        if row is not None:
            self._thumbnails[Path(path)] = pixmap
            self.dataChanged.emit(self.index(row, 0), self.index(row, 0), [Qt.DecorationRole])

    def thumbnail(self, path: Path) -> Optional[QPixmap]:
        return self._thumbnails.get(Path(path))

    def set_search_scores(self, scores: Optional[dict[Path, float]]) -> None:
        """Show these similarities in the Score column (None: no search is active)."""
        self.search_scores = scores
        if self.paths:
            self.dataChanged.emit(self.index(0, SCORE_COLUMN), self.index(len(self.paths) - 1, SCORE_COLUMN))

    # ---------------------------------------------------------------- review

    def decide(self, paths: list[Path], decision: Optional[Decision], key: Optional[TagKey] = None) -> int:
        """Accept or reject one tag, or all proposals, of these photos."""
        count = self.session.decide(paths, decision, key)
        self.refresh(paths)
        return count

    def accept_above_threshold(self) -> int:
        """Accept every pending proposal; explicit rejections stay."""
        count = self.session.accept_above_threshold(self.paths)
        self.refresh_all()
        return count

    # ---------------------------------------------------------------- queries

    def counts(self) -> Counts:
        tagged = len(self.session.results())
        return Counts(len(self.paths), tagged, len(self.session.failures()))

    def errors(self) -> list[tuple[Path, str]]:
        return self.session.failures()

    def pending_paths(self) -> list[Path]:
        return [p for p in self.paths if self.session.result(p) is None and not self.session.failure(p)]

    def has_results(self) -> bool:
        return bool(self.session.results())


class ImageSortModel(QSortFilterProxyModel):
    """What the table shows: the photo list, sortable by any column, ignoring letter case;
    while a search is active, only the photos it shows (``show_only``)."""

    def __init__(self, source: ImageListModel, parent=None) -> None:
        super().__init__(parent)
        self.setSourceModel(source)
        self.setSortCaseSensitivity(Qt.CaseInsensitive)
        # not locale-aware: ICU collation ignores punctuation, so "B2.jpg" sorted before
        # "b.jpg" on one Qt release and after it on another; code-point order is the same everywhere
        self.setSortLocaleAware(False)
        self._shown: Optional[set[Path]] = None

    def show_only(self, paths: Optional[set[Path]]) -> None:
        """Hide every photo not in ``paths`` (None: show all again); re-sorts too."""
        self._shown = paths
        self.invalidate()

    def filterAcceptsRow(self, source_row: int, source_parent: QModelIndex | QPersistentModelIndex) -> bool:
        if self._shown is None:
            return True
        return self.sourceModel().paths[source_row] in self._shown

    def lessThan(self, left: QModelIndex | QPersistentModelIndex, right: QModelIndex | QPersistentModelIndex) -> bool:
        source = self.sourceModel()
        if left.column() == SCORE_COLUMN and source.search_scores is not None:
            scores, paths = source.search_scores, source.paths
            low = float("-inf")
            return scores.get(paths[left.row()], low) < scores.get(paths[right.row()], low)
        return super().lessThan(left, right)

    def path_at(self, row: int) -> Optional[Path]:
        index = self.index(row, 0)
        return self.data(index, PATH_ROLE) if index.isValid() else None

    def row_of(self, path: Path) -> Optional[int]:
        source = self.sourceModel()
        row = source.row_of(path)
        if row is None:
            return None
        return self.mapFromSource(source.index(row, 0)).row()
