"""The table's view of the photo list: sorted by key arrays, filtered by a search.

``QSortFilterProxyModel`` sorts by calling ``lessThan`` (or ``data``) for every comparison: at
20,000 photos that is ~600,000 calls into Python per click on a header, and it re-sorts
everything again on every filter change and every ``dataChanged`` of a sorted column. This
proxy keeps one sort key per photo and column. A changed row's keys are computed again in the
background (a timer turn computes at most ``FILL_ROWS`` keys within ``FILL_BUDGET_S``), so
a click on a header finds them ready and sorts with ``sorted(rows, key=keys.__getitem__)``,
all in C. A search filters the current order without re-sorting; rows whose data change keep
their place (they move at the next sort, as in a file manager, so the row under the cursor
does not jump while the user reviews).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Callable, Optional

from PySide6.QtCore import (
    QAbstractItemModel,
    QAbstractProxyModel,
    QModelIndex,
    QPersistentModelIndex,
    Qt,
    QTimer,
)

Index = QModelIndex | QPersistentModelIndex

#: At most this many keys are computed in the background per event-loop turn ...
FILL_ROWS = 2_000
#: ... and no more once this much time has passed (a turn stays far below a visible gap).
FILL_BUDGET_S = 0.008


class KeyedRows(QAbstractProxyModel):
    """A proxy over a flat table whose rows are only appended or reset.

    ``sort_key(column, source_row)`` gives a row's key for a column (comparable within that
    column, never None); keys are kept until ``invalidate_keys`` names the row (or all rows),
    then computed again in the background or, for rows still stale, at the next sort.
    ``row_filter`` (set through ``set_filter``) decides which source rows are shown.
    ``lazy_columns`` are not filled in the background.
    """

    def __init__(self, source: QAbstractItemModel, sort_key: Callable[[int, int], Any],
                 lazy_columns: frozenset[int] = frozenset(), parent=None) -> None:
        super().__init__(parent)
        self._sort_key = sort_key
        #: Columns whose keys are computed only by a sort (all change at once, e.g. search scores).
        self._lazy = lazy_columns
        self._keys: dict[int, list[Any]] = {}   # column -> source row -> key (None: stale)
        self._stale: dict[int, set[int]] = {}   # column -> source rows whose key is stale
        self._fill_timer = QTimer(self)
        self._fill_timer.setSingleShot(True)
        self._fill_timer.setInterval(0)
        self._fill_timer.timeout.connect(self._fill_some)
        self._column = -1
        self._order = Qt.AscendingOrder
        self._filter: Optional[Callable[[int], bool]] = None
        self._ordered: list[int] = []   # every source row, in the current sort order
        self._rows: list[int] = []      # proxy row -> source row (the shown ones)
        self._proxy_of: dict[int, int] = {}  # source row -> proxy row
        #: How many sort keys were computed (tests count work, not time), and by sorting.
        self.keys_computed = 0
        self.keys_computed_by_sort = 0
        self.setSourceModel(source)
        source.rowsInserted.connect(self._inserted)
        source.modelReset.connect(self._reset)
        source.dataChanged.connect(self._data_changed)
        source.headerDataChanged.connect(self.headerDataChanged)
        self._reset()

    # ---------------------------------------------------------------- QAbstractProxyModel

    def rowCount(self, parent: Index = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:
        return 0 if parent.isValid() else self.sourceModel().columnCount()

    def index(self, row: int, column: int, parent: Index = QModelIndex()) -> QModelIndex:
        if parent.isValid() or not (0 <= row < len(self._rows)) or not (0 <= column < self.columnCount()):
            return QModelIndex()
        return self.createIndex(row, column)

    def parent(self, child: Index = QModelIndex()) -> QModelIndex:  # type: ignore[override]
        return QModelIndex()

    def mapToSource(self, proxy: Index) -> QModelIndex:
        if not proxy.isValid() or proxy.row() >= len(self._rows):
            return QModelIndex()
        return self.sourceModel().index(self._rows[proxy.row()], proxy.column())

    def mapFromSource(self, source: Index) -> QModelIndex:
        if not source.isValid():
            return QModelIndex()
        row = self._proxy_of.get(source.row())
        return QModelIndex() if row is None else self.createIndex(row, source.column())

    def sort(self, column: int, order: Qt.SortOrder = Qt.AscendingOrder) -> None:
        self._column, self._order = column, order
        self._relayout(resort=True)

    # ---------------------------------------------------------------- keys and filter

    def source_rows(self, proxy_rows: list[int]) -> list[int]:
        """The source rows behind these proxy rows (those in range)."""
        rows, count = self._rows, len(self._rows)
        return [rows[r] for r in proxy_rows if 0 <= r < count]

    def invalidate_keys(self, source_rows: Optional[list[int]] = None) -> None:
        """These rows' data changed (None: every row's); their keys are computed again soon."""
        for column in range(self.columnCount()):
            self._invalidate(column, source_rows)

    def invalidate_column(self, column: int) -> None:
        """Every row's key for ``column`` changed (e.g. a new search's scores)."""
        self._invalidate(column, None)

    def keys_pending(self) -> int:
        """How many keys the background fill has still to compute."""
        return sum(len(rows) for column, rows in self._stale.items() if column not in self._lazy)

    def _invalidate(self, column: int, source_rows: Optional[list[int]]) -> None:
        count = self.sourceModel().rowCount()
        keys = self._keys.setdefault(column, [])
        if len(keys) != count:
            keys.extend([None] * (count - len(keys)))
            del keys[count:]
        stale = self._stale.setdefault(column, set())
        if source_rows is None:
            keys[:] = [None] * count
            stale.update(range(count))
        else:
            for row in source_rows:
                if row < count:
                    keys[row] = None
            stale.update(r for r in source_rows if r < count)
        if stale and column not in self._lazy:
            self._fill_timer.start()

    def _fill_some(self) -> None:
        """One event-loop turn of background key computation: bounded in rows and time."""
        deadline, budget = time.perf_counter() + FILL_BUDGET_S, FILL_ROWS
        for column, stale in self._stale.items():
            if column in self._lazy:
                continue
            while stale and budget > 0:
                self._compute(column, stale.pop())
                budget -= 1
                if budget % 64 == 0 and time.perf_counter() > deadline:
                    budget = 0
            if budget <= 0:
                break
        if self.keys_pending():
            self._fill_timer.start()

    def _keys_of(self, column: int) -> list[Any]:
        """Every row's key for ``column``, the stale ones computed now (by the sort)."""
        if column not in self._keys:
            self._invalidate(column, None)
        stale = self._stale[column]
        self.keys_computed_by_sort += len(stale)
        while stale:
            self._compute(column, stale.pop())
        return self._keys[column]

    def _compute(self, column: int, row: int) -> None:
        self._keys[column][row] = self._sort_key(column, row)
        self.keys_computed += 1

    def set_filter(self, accepts: Optional[Callable[[int], bool]]) -> None:
        """Show only the source rows ``accepts`` takes (None: all), in the current order."""
        self._filter = accepts
        self._relayout(resort=False)

    def _sorted(self, rows: list[int]) -> list[int]:
        by_number = sorted(rows)  # the order photos were added
        if self._column < 0:
            return by_number
        # a stable sort of rows in number order: the row number breaks ties, a total order
        ordered = sorted(by_number, key=self._keys_of(self._column).__getitem__)
        return ordered[::-1] if self._order == Qt.DescendingOrder else ordered

    # ---------------------------------------------------------------- source changes

    def _reset(self) -> None:
        self.beginResetModel()
        self._keys.clear()
        self._stale.clear()
        self.invalidate_keys()
        self._ordered = self._sorted(list(range(self.sourceModel().rowCount())))
        self._apply_filter()
        self.endResetModel()

    def _apply_filter(self) -> None:
        accepts = self._filter
        self._rows = self._ordered if accepts is None else [r for r in self._ordered if accepts(r)]
        self._proxy_of = {source: proxy for proxy, source in enumerate(self._rows)}

    def _relayout(self, resort: bool) -> None:
        self.layoutAboutToBeChanged.emit()
        before = self.persistentIndexList()
        sources = [(self._rows[i.row()] if i.isValid() and i.row() < len(self._rows) else None, i.column())
                   for i in before]
        if resort:
            self._ordered = self._sorted(self._ordered)
        self._apply_filter()
        after = [self.createIndex(self._proxy_of[s], c) if s is not None and s in self._proxy_of else QModelIndex()
                 for s, c in sources]
        self.changePersistentIndexList(before, after)
        self.layoutChanged.emit()

    def _inserted(self, parent: Index, first: int, last: int) -> None:
        """Rows appended to the source: shown at the end, or in their place when sorted."""
        new = list(range(first, last + 1))
        self.invalidate_keys(new)  # grows the key lists; the new rows' keys come in the background
        if self._column >= 0:
            self._ordered += new
            self._relayout(resort=True)
            return
        accepts = self._filter
        shown = new if accepts is None else [r for r in new if accepts(r)]
        start = len(self._rows)
        if shown:
            self.beginInsertRows(QModelIndex(), start, start + len(shown) - 1)
        same_list = self._rows is self._ordered  # no filter: one list serves both
        self._ordered += new
        if not same_list:
            self._rows += shown
        for offset, row in enumerate(shown):
            self._proxy_of[row] = start + offset
        if shown:
            self.endInsertRows()

    def _data_changed(self, top_left: Index, bottom_right: Index, roles: list[int] = []) -> None:  # noqa: B006
        first, last = top_left.row(), bottom_right.row()
        if not roles or Qt.DisplayRole in roles:
            self.invalidate_keys(None if last - first + 1 >= len(self._ordered) else list(range(first, last + 1)))
        if last - first + 1 >= len(self._ordered):  # everything: one signal, not one per row
            if self._rows:
                self.dataChanged.emit(self.index(0, top_left.column()),
                                      self.index(len(self._rows) - 1, bottom_right.column()), roles)
            return
        for row in range(first, last + 1):
            proxy = self._proxy_of.get(row)
            if proxy is not None:
                self.dataChanged.emit(self.index(proxy, top_left.column()), self.index(proxy, bottom_right.column()),
                                      roles)


def name_sort_key(path: Path) -> tuple[str, str]:
    """Names compare ignoring letter case, by code point (the same on every machine and Qt)."""
    return (path.name.casefold(), path.name)
