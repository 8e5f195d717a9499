"""The photo list's table view: thumbnails, sortable columns, multi-row selection."""

from __future__ import annotations

from PySide6.QtCore import QAbstractItemModel, QSize, Qt
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableView


def build_photo_table(model: QAbstractItemModel, thumb_size: int) -> QTableView:
    table = QTableView()
    table.setModel(model)
    table.setSortingEnabled(True)
    table.sortByColumn(-1, Qt.AscendingOrder)  # the order photos were added, until a header is clicked
    table.setSelectionBehavior(QAbstractItemView.SelectRows)
    table.setSelectionMode(QAbstractItemView.ExtendedSelection)
    table.setIconSize(QSize(thumb_size, thumb_size))
    table.verticalHeader().setDefaultSectionSize(thumb_size + 8)
    table.verticalHeader().hide()
    table.setAlternatingRowColors(True)
    table.setWordWrap(False)
    table.setTabKeyNavigation(False)  # Tab leaves the table (to the proposals), as in a photo manager
    header = table.horizontalHeader()
    # Not ResizeToContents: it re-measures every row on each dataChanged (seconds on big lists).
    header.setSectionResizeMode(0, QHeaderView.Interactive)
    header.setSectionResizeMode(1, QHeaderView.Interactive)
    header.setSectionResizeMode(2, QHeaderView.Stretch)
    table.setColumnWidth(0, 260)
    table.setColumnWidth(1, 80)
    return table
