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
from typing import TYPE_CHECKING, Any, Callable, Iterable, Optional

from PySide6.QtCore import (
    QAbstractTableModel,
    QItemSelection,
    QModelIndex,
    QPersistentModelIndex,
    Qt,
    Signal,
)
from PySide6.QtGui import QColor, QPixmap

from cliptagger.core.session.decisions import Decision, TagKey, as_path
from cliptagger.core.session.review_rows import shown_names
from cliptagger.gui.widgets.results_panel import percent_text
from cliptagger.gui.widgets.sorted_rows import KeyedRows, name_sort_key

if TYPE_CHECKING:
    from cliptagger.core.session.facade import Session


class Status(str, Enum):
    QUEUED = "to tag"  # added, not run yet ("queued" read as if something were already running)
    TAGGED = "tagged"
    ERROR = "error"
    WRITE_FAILED = "not written"  # its sidecar could not be written, or cannot be read
    WRITTEN = "written"


#: Above this many changed rows, one dataChanged covers their span instead of one per row.
MANY_ROWS = 256
#: Sorting by status: work to do first.
STATUS_ORDER = {Status.ERROR: 0, Status.WRITE_FAILED: 0, Status.QUEUED: 1, Status.TAGGED: 2, Status.WRITTEN: 3}

STATUS_COLOURS = {
    Status.QUEUED: QColor("#7a7a7a"),
    Status.TAGGED: QColor("#1f6fd1"),
    Status.ERROR: QColor("#c62828"),
    Status.WRITE_FAILED: QColor("#c62828"),
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
    errors: int           # could not be tagged
    not_written: int = 0  # their sidecar could not be written (Show Errors lists both)


class ImageListModel(QAbstractTableModel):
    COLUMNS = ("Image", "Status", "Proposed tags", "Score")
    counts_changed = Signal()

    def __init__(self, session: "Session", parent=None) -> None:
        super().__init__(parent)
        self.session = session
        self.paths: list[Path] = []
        self._rows: dict[Path, int] = {}
        #: Where thumbnails come from (the window's loader): asked only for rows being painted.
        self.thumbnail_source: Optional[Callable[[Path], Optional[QPixmap]]] = None
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
            if column == 0:  # with its folder: the same name in two folders must not look the same
                return f"{path.name}\n{path.parent.name}" if path.parent.name else path.name
            if column == 1:
                return self.status(path).value
            if column == 2:
                return self.tags_text(path)
            if column == SCORE_COLUMN:
                score = (self.search_scores or {}).get(path)
                return "" if score is None else f"{score:.3f}"
        if role == Qt.DecorationRole and column == 0:
            return self.thumbnail_source(path) if self.thumbnail_source is not None else None
        if role == Qt.ToolTipRole:  # the folder too (names repeat across folders); tags cut to "…" in full
            failure = self.session.failure(path)
            if failure:
                return f"{path}\n{failure}"
            return f"{path}\n{self.tags_text(path)}" if column == 2 else str(path)
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
        if self.session.sidecars.problems(path):
            return Status.WRITE_FAILED
        return Status.WRITTEN if self.session.is_written(path) else Status.TAGGED

    def tags_text(self, path: Path) -> str:
        failure = self.session.failure(path)
        if failure:
            return failure
        parts = []
        rows = self.session.review_rows(path)
        names = shown_names(rows)
        for row in rows:
            mark = {Decision.ACCEPTED: "✓ ", Decision.REJECTED: "✗ "}.get(row.decision, "")
            parts.append(f"{mark}{names[row.key]} {percent_text(row.probability, row.threshold)}")
        return ",  ".join(parts)

    # ---------------------------------------------------------------- sort keys

    def sort_key(self, column: int, row: int) -> Any:
        """One row's key for sorting by ``column`` (cheap: no review rows are built)."""
        path = self.paths[row]
        if column == 1:
            return (STATUS_ORDER[self.status(path)], name_sort_key(path))
        if column == 2:
            failure = self.session.failure(path)
            if failure:
                return (2, failure.casefold(), 0.0)
            result = self.session.result(path)
            if result is None:
                return (3, "", 0.0)
            best = max(result.proposals, key=lambda p: p.probability, default=None)
            return (0, best.label.keyword.casefold(), -best.probability) if best else (1, "", 0.0)
        if column == SCORE_COLUMN:
            score = (self.search_scores or {}).get(path)
            return float("-inf") if score is None else score
        return name_sort_key(path)

    # ---------------------------------------------------------------- list edits

    def add_paths(self, paths: Iterable[Path]) -> list[Path]:
        """Append photos not in the list yet; returns the ones added."""
        new = [p for p in dict.fromkeys(as_path(p) for p in paths) if p not in self._rows]
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
        self.endResetModel()
        self.counts_changed.emit()

    def row_of(self, path: Path) -> Optional[int]:
        return self._rows.get(as_path(path))

    def refresh(self, paths: Iterable[Path]) -> None:
        """Repaint these photos' rows (their state changed in the session): one signal per
        row for a few, one signal over their span for many (a select-all accept)."""
        rows = [r for r in (self._rows.get(as_path(p)) for p in paths) if r is not None]
        last_column = len(self.COLUMNS) - 1
        if len(rows) > MANY_ROWS:
            self.dataChanged.emit(self.index(min(rows), 0), self.index(max(rows), last_column))
        else:
            for row in rows:
                self.dataChanged.emit(self.index(row, 0), self.index(row, last_column))
        self.counts_changed.emit()

    def refresh_all(self) -> None:
        if self.paths:
            self.dataChanged.emit(self.index(0, 0), self.index(len(self.paths) - 1, len(self.COLUMNS) - 1))
        self.counts_changed.emit()

    def thumbnail_ready(self, path: Path) -> None:
        """Repaint the row's thumbnail (it has arrived in the loader's memory)."""
        row = self._rows.get(as_path(path))
        if row is not None:
            self.dataChanged.emit(self.index(row, 0), self.index(row, 0), [Qt.DecorationRole])

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
        """From the session's kept counts: O(1), asked after every change."""
        kept = self.session.counts()
        return Counts(len(self.paths), kept.tagged, kept.failed, self.session.sidecars.write_failure_count())

    def errors(self) -> list[tuple[Path, str]]:
        """Photos that could not be tagged, then those whose sidecar could not be written."""
        return self.session.failures() + self.session.sidecars.write_failures()

    def pending_paths(self) -> list[Path]:
        return [p for p in self.paths if self.session.result(p) is None and not self.session.failure(p)]

    def has_pending(self) -> bool:
        return self.session.counts().pending > 0

    def has_results(self) -> bool:
        return self.session.counts().tagged > 0


class ImageSortModel(KeyedRows):
    """What the table shows: the photo list, sorted by any column from per-row keys (names
    ignoring letter case); while a search is active, only the photos it shows (``show_only``)."""

    def __init__(self, source: ImageListModel, parent=None) -> None:
        super().__init__(source, source.sort_key, frozenset({SCORE_COLUMN}), parent)
        self._source = source

    def show_only(self, paths: Optional[set[Path]]) -> None:
        """Hide every photo not in ``paths`` (None: show all again), keeping the order."""
        source_paths = self._source.paths
        self.invalidate_column(SCORE_COLUMN)  # a new search: new scores
        self.set_filter(None if paths is None else (lambda row: source_paths[row] in paths))

    def paths_in(self, selection: QItemSelection) -> list[Path]:
        """The photos of a selection, in the table's order: from its ranges, without building
        an index per selected row (select-all at 20k was 2.5 s of selectedRows + mapToSource)."""
        rows = sorted({row for part in selection for row in range(part.top(), part.bottom() + 1)})
        source_paths = self._source.paths
        return [source_paths[source] for source in self.source_rows(rows)]

    def path_at(self, row: int) -> Optional[Path]:
        index = self.index(row, 0)
        return self.data(index, PATH_ROLE) if index.isValid() else None

    def row_of(self, path: Path) -> Optional[int]:
        row = self._source.row_of(path)
        if row is None:
            return None
        index = self.mapFromSource(self._source.index(row, 0))
        return index.row() if index.isValid() else None
