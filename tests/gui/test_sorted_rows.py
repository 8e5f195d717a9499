"""KeyedRows: the table's sorted, filtered view, with sort keys filled in the background."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from PySide6.QtCore import QAbstractTableModel, QModelIndex, Qt

from cliptagger.gui.widgets import sorted_rows
from cliptagger.gui.widgets.sorted_rows import KeyedRows


class Values(QAbstractTableModel):
    """Rows of (a, b) integers; column 1 is 'lazy' in some tests."""

    def __init__(self, rows: list[tuple[int, int]]) -> None:
        super().__init__()
        self.rows = list(rows)
        self.key_calls = 0

    def rowCount(self, parent=QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent=QModelIndex()) -> int:
        return 2

    def data(self, index, role=Qt.DisplayRole):
        return self.rows[index.row()][index.column()] if role == Qt.DisplayRole else None

    def key(self, column: int, row: int) -> int:
        self.key_calls += 1
        return self.rows[row][column]

    def append(self, rows: list[tuple[int, int]]) -> None:
        self.beginInsertRows(QModelIndex(), len(self.rows), len(self.rows) + len(rows) - 1)
        self.rows += rows
        self.endInsertRows()

    def change(self, row: int, value: tuple[int, int]) -> None:
        self.rows[row] = value
        self.dataChanged.emit(self.index(row, 0), self.index(row, 1))


def shown(proxy: KeyedRows, column: int = 0) -> list[int]:
    return [proxy.data(proxy.index(r, column)) for r in range(proxy.rowCount())]


def fill(proxy: KeyedRows) -> list[int]:
    """Run the background fill to the end; the keys each turn computed."""
    turns = []
    while proxy.keys_pending():
        before = proxy.keys_computed
        proxy._fill_some()
        turns.append(proxy.keys_computed - before)
    return turns


rows_strategy = st.lists(st.tuples(st.integers(-3, 3), st.integers(-3, 3)), max_size=40)


@settings(max_examples=60, deadline=None)
@given(rows=rows_strategy, column=st.sampled_from([0, 1]), descending=st.booleans(), keep_odd=st.booleans())
def test_the_order_is_a_stable_sort_by_key_then_row_in_either_direction(qapp, rows, column, descending, keep_odd):
    source = Values(rows)
    proxy = KeyedRows(source, source.key)
    order = Qt.DescendingOrder if descending else Qt.AscendingOrder
    proxy.sort(column, order)
    expected = sorted(range(len(rows)), key=lambda r: (rows[r][column], r))
    if descending:
        expected.reverse()
    if keep_odd:
        proxy.set_filter(lambda r: r % 2 == 1)
        expected = [r for r in expected if r % 2 == 1]
    assert proxy.source_rows(list(range(proxy.rowCount()))) == expected
    assert shown(proxy, column) == [rows[r][column] for r in expected]


def test_keys_are_filled_in_bounded_turns_so_a_sort_computes_none(qapp):
    count = sorted_rows.FILL_ROWS * 3 + 17
    source = Values([(i % 97, -i) for i in range(count)])
    proxy = KeyedRows(source, source.key)
    turns = fill(proxy)
    assert sum(turns) == 2 * count and max(turns) <= sorted_rows.FILL_ROWS
    proxy.sort(0)
    assert proxy.keys_computed_by_sort == 0
    assert shown(proxy) == sorted(shown(proxy))


def test_a_changed_row_keeps_its_place_until_the_next_sort_and_costs_one_key_per_column(qapp):
    source = Values([(5, 0), (1, 0), (3, 0)])
    proxy = KeyedRows(source, source.key)
    fill(proxy)
    proxy.sort(0)
    assert shown(proxy) == [1, 3, 5]
    before = proxy.keys_computed
    source.change(1, (9, 0))
    assert shown(proxy) == [9, 3, 5]  # in place: the row under the cursor does not jump
    assert fill(proxy) == [2]         # that row, both columns
    proxy.sort(0)
    assert shown(proxy) == [3, 5, 9] and proxy.keys_computed == before + 2


def test_rows_appended_while_sorted_take_their_place_and_are_keyed_once(qapp):
    source = Values([(4, 0), (2, 0)])
    proxy = KeyedRows(source, source.key)
    proxy.sort(0)
    source.append([(3, 0), (1, 0)])
    assert shown(proxy) == [1, 2, 3, 4]
    fill(proxy)
    assert source.key_calls == 8  # four rows, two columns, each once


def test_a_lazy_column_is_keyed_only_by_a_sort(qapp):
    source = Values([(i, -i) for i in range(100)])
    proxy = KeyedRows(source, source.key, lazy_columns=frozenset({1}))
    assert sum(fill(proxy)) == 100  # column 0 only
    proxy.invalidate_column(1)
    assert proxy.keys_pending() == 0
    proxy.sort(1)
    assert proxy.keys_computed_by_sort == 100 and shown(proxy, 1)[:3] == [-99, -98, -97]
