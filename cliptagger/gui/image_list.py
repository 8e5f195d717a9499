"""The list of images and everything the window knows about each one."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any, Iterable, Optional

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt, Signal
from PySide6.QtGui import QColor, QPixmap


class Status(str, Enum):
    QUEUED = "queued"
    TAGGED = "tagged"
    ERROR = "error"
    WRITTEN = "written"


STATUS_COLOURS = {
    Status.QUEUED: QColor("#7a7a7a"),
    Status.TAGGED: QColor("#1f6fd1"),
    Status.ERROR: QColor("#c62828"),
    Status.WRITTEN: QColor("#2e7d32"),
}


@dataclass
class ImageItem:
    path: Path
    status: Status = Status.QUEUED
    error: str = ""
    result: Any = None                      # core.engine.ImageResult
    existing: list[str] = field(default_factory=list)
    #: Keyword -> True (accepted) / False (rejected); proposals not in here are pending.
    decisions: dict[str, bool] = field(default_factory=dict)
    thumbnail: Optional[QPixmap] = None

    @property
    def proposals(self) -> list:
        return self.result.proposals if self.result is not None else []

    @property
    def proposed_keywords(self) -> list[str]:
        return [p.keyword for p in self.proposals]

    @property
    def accepted_keywords(self) -> list[str]:
        return [k for k in self.proposed_keywords if self.decisions.get(k) is True]


class ImageListModel(QAbstractTableModel):
    COLUMNS = ("Image", "Status", "Proposed tags")
    counts_changed = Signal()

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.items: list[ImageItem] = []
        self._rows: dict[Path, int] = {}

    # ---------------------------------------------------------------- Qt model API

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.items)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.DisplayRole) -> Any:
        if orientation == Qt.Horizontal and role == Qt.DisplayRole:
            return self.COLUMNS[section]
        return None

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.DisplayRole) -> Any:
        if not index.isValid():
            return None
        item = self.items[index.row()]
        column = index.column()
        if role == Qt.DisplayRole:
            if column == 0:
                return item.path.name
            if column == 1:
                return item.status.value
            if column == 2:
                return self._tags_text(item)
        if role == Qt.DecorationRole and column == 0:
            return item.thumbnail
        if role == Qt.ToolTipRole:
            if item.status is Status.ERROR:
                return f"{item.path}\n{item.error}"
            return str(item.path)
        if role == Qt.ForegroundRole and column == 1:
            return STATUS_COLOURS[item.status]
        if role == Qt.UserRole:
            return item
        return None

    @staticmethod
    def _tags_text(item: ImageItem) -> str:
        if item.status is Status.ERROR:
            return item.error
        parts = []
        for proposal in item.proposals:
            decision = item.decisions.get(proposal.keyword)
            mark = "✓ " if decision is True else ("✗ " if decision is False else "")
            parts.append(f"{mark}{proposal.keyword} {proposal.probability:.0%}")
        return ",  ".join(parts)

    # ---------------------------------------------------------------- edits

    def add_paths(self, paths: Iterable[Path]) -> int:
        new = [Path(p) for p in paths if Path(p) not in self._rows]
        new = list(dict.fromkeys(new))
        if not new:
            return 0
        start = len(self.items)
        self.beginInsertRows(QModelIndex(), start, start + len(new) - 1)
        for offset, path in enumerate(new):
            self._rows[path] = start + offset
            self.items.append(ImageItem(path))
        self.endInsertRows()
        self.counts_changed.emit()
        return len(new)

    def clear(self) -> None:
        self.beginResetModel()
        self.items.clear()
        self._rows.clear()
        self.endResetModel()
        self.counts_changed.emit()

    def item_for(self, path: Path) -> Optional[ImageItem]:
        row = self._rows.get(Path(path))
        return self.items[row] if row is not None else None

    def row_of(self, path: Path) -> Optional[int]:
        return self._rows.get(Path(path))

    def changed(self, path: Path) -> None:
        row = self._rows.get(Path(path))
        if row is not None:
            self.dataChanged.emit(self.index(row, 0), self.index(row, len(self.COLUMNS) - 1))

    def set_result(self, result: Any, existing: list[str]) -> None:
        item = self.item_for(result.path)
        if item is None:
            return
        item.result, item.existing, item.status, item.error = result, existing, Status.TAGGED, ""
        item.decisions = {k: v for k, v in item.decisions.items() if k in item.proposed_keywords}
        self.changed(item.path)
        self.counts_changed.emit()

    def set_failure(self, path: Path, reason: str) -> None:
        item = self.item_for(path)
        if item is None:
            return
        item.status, item.error, item.result = Status.ERROR, reason, None
        self.changed(path)
        self.counts_changed.emit()

    def set_thumbnail(self, path: Path, pixmap: QPixmap) -> None:
        item = self.item_for(path)
        if item is not None:
            item.thumbnail = pixmap
            row = self._rows[item.path]
            self.dataChanged.emit(self.index(row, 0), self.index(row, 0), [Qt.DecorationRole])

    def decide(self, items: Iterable[ImageItem], accepted: bool, keyword: Optional[str] = None) -> int:
        """Accept or reject one proposal, or all proposals, of the given items."""
        count = 0
        for item in items:
            keywords = [keyword] if keyword is not None else item.proposed_keywords
            for key in keywords:
                if key in item.proposed_keywords:
                    item.decisions[key] = accepted
                    count += 1
            self.changed(item.path)
        self.counts_changed.emit()
        return count

    # ---------------------------------------------------------------- queries

    def tagged_items(self) -> list[ImageItem]:
        return [i for i in self.items if i.result is not None]

    def errors(self) -> list[ImageItem]:
        return [i for i in self.items if i.status is Status.ERROR]

    def pending_paths(self) -> list[Path]:
        return [i.path for i in self.items if i.status is Status.QUEUED]

    def accepted_assignments(self) -> dict[Path, list[str]]:
        return {i.path: i.accepted_keywords for i in self.items if i.accepted_keywords}
