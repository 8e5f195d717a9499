"""Search in the window: a box above the photo list (Ctrl+F) and "More like this".

Typing re-ranks and filters the list by similarity to the text; "More like this" on a
photo's context menu ranks by that photo's look (and the text refines it). Esc clears the
search. The work runs on a thread of its own (``SearchWorker``): it encodes the query text
and multiplies it with the embeddings of the photos in view (``Session.search`` with
``encode=False``: no image is decoded or encoded). The UI thread only debounces keystrokes
and applies the ranked scores to the list, so it never waits on the model; a search that
arrives after a newer one was asked for is dropped.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Callable, Optional

from PySide6.QtCore import QEvent, QObject, QPoint, Qt, QThread, QTimer, Signal, Slot
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLineEdit,
    QMenu,
    QTableView,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from cliptagger.core.tagging.search import SearchQuery
from cliptagger.gui.widgets.image_list import SCORE_COLUMN
from cliptagger.gui.workers.search import SearchOutcome, SearchWorker

if TYPE_CHECKING:
    from PySide6.QtWidgets import QMainWindow

    from cliptagger.core.session.facade import Session
    from cliptagger.gui.widgets.image_list import ImageListModel, ImageSortModel

#: Wait this long after the last keystroke before searching (ms).
DEBOUNCE_MS = 120
class SearchController(QObject):
    """The search box, the Score column, the context menu and the worker behind them."""

    #: Emitted on the UI thread once a search's results are in the list: how many are shown.
    searched = Signal(int)
    _request = Signal(int, object)

    def __init__(self, window: "QMainWindow", session: "Session", images: "ImageListModel",
                 sorted_model: "ImageSortModel", table: QTableView) -> None:
        super().__init__(window)
        self.session, self.images, self.sorted, self.table = session, images, sorted_model, table
        self._message: Callable[[str, int], None] = window.statusBar().showMessage
        self._generation = 0
        self._like: tuple[Path, ...] = ()
        self._query = SearchQuery()
        self._sort_before: Optional[tuple[int, Qt.SortOrder]] = None
        #: The query whose results the list shows (None: none yet).
        self.last_query: Optional[SearchQuery] = None

        self.edit = QLineEdit()
        self.edit.setPlaceholderText("Search photos by description, e.g. a red kite over the sea  (Ctrl+F)")
        self.edit.setClearButtonEnabled(True)
        self.edit.textChanged.connect(self._typed)
        self.like_button = QToolButton()
        self.like_button.setToolTip("Searching for photos that look like this one: click to stop")
        self.like_button.clicked.connect(self._forget_example)
        self.like_button.hide()
        self.widget = QWidget()
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.edit, 1)
        row.addWidget(self.like_button)
        column = QVBoxLayout(self.widget)
        column.setContentsMargins(0, 0, 0, 0)
        column.addLayout(row)
        column.addWidget(table)
        table.setColumnHidden(SCORE_COLUMN, True)
        for widget in (self.edit, table):
            widget.installEventFilter(self)  # Esc clears an active search (before Stop sees it)

        table.setContextMenuPolicy(Qt.CustomContextMenu)
        table.customContextMenuRequested.connect(self._context_menu)

        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(DEBOUNCE_MS)
        self._timer.timeout.connect(self._start)
        images.modelReset.connect(self.clear)
        images.rowsInserted.connect(self._list_changed)
        window.run_done.connect(self._list_changed)  # photos were tagged

        self.worker = SearchWorker(session)
        self.thread = QThread(self)
        self.thread.setObjectName("cliptagger-search")
        self.worker.moveToThread(self.thread)
        self._request.connect(self.worker.search)
        self.worker.finished.connect(self._finished)
        self.thread.start()

    # ------------------------------------------------------------------ what the user does

    @property
    def active(self) -> bool:
        return bool(self.edit.text().strip() or self._like)

    def focus(self) -> None:
        self.edit.setFocus(Qt.ShortcutFocusReason)
        self.edit.selectAll()

    def more_like(self, path: Path) -> None:
        """Rank the list by its look; text typed afterwards refines the search."""
        self._like = (Path(path),)
        self.like_button.setText(f"like {Path(path).name}  ✕")
        self.like_button.show()
        self._start()

    def clear(self) -> None:
        """No search: every photo again, in the order the list had before."""
        self._generation += 1
        self._timer.stop()
        self._like = ()
        self.like_button.hide()
        self.edit.blockSignals(True)
        self.edit.clear()
        self.edit.blockSignals(False)
        self._show(None)

    def refresh(self) -> None:
        """Search again (new photos were tagged or added while a search was active)."""
        if self.active:
            self._timer.start()

    def shutdown(self) -> None:
        self._generation += 1
        self.thread.quit()
        self.thread.wait(10_000)

    # ------------------------------------------------------------------ behind the scenes

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() in (QEvent.ShortcutOverride, QEvent.KeyPress) and self.active:
            if event.key() == Qt.Key_Escape:
                event.accept()
                if event.type() == QEvent.KeyPress:
                    self.clear()
                return True
        if watched is self.edit and not self.edit.text() and event.type() in (QEvent.ShortcutOverride,
                                                                               QEvent.KeyPress):
            return self._photo_key(event)
        return super().eventFilter(watched, event)

    def _photo_key(self, event: QEvent) -> bool:
        """In an empty search box, the keys that act on photos do: Ctrl+Z is the window's Undo
        (not the box's), Ctrl+A selects every photo, Up/Down go to the photo list."""
        if event.matches(QKeySequence.Undo):
            if event.type() == QEvent.ShortcutOverride:
                event.ignore()  # not claimed by the box: the window's Undo Last Write shortcut runs
            return True
        if event.matches(QKeySequence.SelectAll) or event.key() in (Qt.Key_Down, Qt.Key_Up):
            if event.type() == QEvent.ShortcutOverride:
                event.accept()  # ours, on the KeyPress that follows
                return True
            self.table.setFocus(Qt.ShortcutFocusReason)
            if event.matches(QKeySequence.SelectAll):
                self.table.selectAll()
            elif self.table.currentIndex().row() < 0 and self.sorted.rowCount() > 0:
                self.table.selectRow(0)
            return True
        return False

    @Slot(str)
    def _typed(self, _text: str) -> None:
        if self.active:
            self._timer.start()
        else:
            self.clear()

    @Slot()
    def _forget_example(self) -> None:
        self._like = ()
        self.like_button.hide()
        self._typed(self.edit.text())

    def _list_changed(self, *_args: object) -> None:
        self.refresh()

    @Slot()
    def _start(self) -> None:
        if not self.active:
            return
        self._generation += 1
        self.worker.supersede(self._generation)
        self._query = SearchQuery(self.edit.text().strip(), self._like)
        self._request.emit(self._generation, self._query)

    @Slot(object)
    def _finished(self, outcome: SearchOutcome) -> None:
        generation, result, error = outcome.generation, outcome.result, outcome.error
        if generation != self._generation or not self.active:
            return  # the user typed on, or cleared the search
        if result is None:
            self._message(error, 6000)
            return
        self.last_query = self._query
        shown = result.shown
        self._show(result.scores, shown)
        broken = self.images.counts().errors  # could not be read: tagging them again will not help
        untagged = max(0, len(self.images.paths) - len(result.scores) - broken)
        self._message(f"{len(shown)} of {len(self.images.paths)} photos match {self._describe()}"
                      + (f"; {untagged} not searchable yet (tag them first, F5)" if untagged else "")
                      + (f"; {broken} could not be read" if broken else "")
                      + ". Esc shows all again.", 0)
        self.searched.emit(len(shown))

    def _describe(self) -> str:
        return SearchQuery(self.edit.text().strip(), self._like).describe()

    def _show(self, scores: Optional[dict[Path, float]], shown: Optional[set[Path]] = None) -> None:
        """Apply a search to the list (None: none). The order of the steps keeps the proxy's
        Python callbacks to one filter pass plus sorting the shown rows only."""
        header = self.table.horizontalHeader()
        if scores is not None and self._sort_before is None:
            self._sort_before = (header.sortIndicatorSection(), header.sortIndicatorOrder())
        if scores is None and self._sort_before is None:
            return  # no search was shown
        self.sorted.sort(-1)  # the added order: cheap, and no re-sort while filtering
        self.images.search_scores = scores  # no dataChanged: the filter below repaints
        self.sorted.show_only(shown)
        self.table.setColumnHidden(SCORE_COLUMN, scores is None)
        if scores is not None:
            self.table.sortByColumn(SCORE_COLUMN, Qt.DescendingOrder)
            self.table.scrollToTop()
            if self.sorted.rowCount() > 0:  # the best hit is selected: the panel and Ctrl+Return act on it
                self.table.selectRow(0)
            else:
                self.table.clearSelection()
        else:
            section, order = self._sort_before
            self._sort_before = None
            self.table.sortByColumn(section, order)
            self._message("", 0)

    @Slot(QPoint)
    def _context_menu(self, position: QPoint) -> None:
        index = self.table.indexAt(position)
        path = self.sorted.path_at(index.row()) if index.isValid() else None
        if path is None:
            return
        menu = QMenu(self.table)
        menu.setAttribute(Qt.WA_DeleteOnClose)  # one menu per right click, gone when closed
        menu.addAction("More Like This", lambda: self.more_like(path))
        if self.active:
            menu.addAction("Clear Search (Esc)", self.clear)
        menu.popup(self.table.viewport().mapToGlobal(position))
