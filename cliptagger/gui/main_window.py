"""The main window: lays out the widgets and forwards the user's actions.

Photos, results and decisions live in the core ``Session``; the list model shows them, the
workers run the session's heavy verbs off the UI thread, the model controller owns the
model's lifecycle. This class only wires them together.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Optional

from PySide6.QtCore import QByteArray, QEventLoop, QTimer, Signal, Slot
from PySide6.QtGui import QCloseEvent, QPixmap
from PySide6.QtWidgets import QApplication, QMainWindow, QMessageBox, QSplitter

from cliptagger.core.session.facade import EngineOptions, Session
from cliptagger.core.tagging.labels import LabelSet
from cliptagger.gui.actions import build_actions, build_menus, build_toolbar, shortcut_list
from cliptagger.gui.controllers.explain import ExplainController
from cliptagger.gui.controllers.label_sets import LabelSetsController
from cliptagger.gui.controllers.learning import LearningController
from cliptagger.gui.controllers.model import ModelController
from cliptagger.gui.controllers.photo_intake import PhotoIntake
from cliptagger.gui.controllers.review import ReviewController
from cliptagger.gui.controllers.search import SearchController
from cliptagger.gui.controllers.sidecar import SidecarController
from cliptagger.gui.widgets import dialogs
from cliptagger.gui.widgets.image_list import ImageListModel, ImageSortModel
from cliptagger.gui.widgets.label_editor import LabelSetEditor
from cliptagger.gui.widgets.photo_table import build_photo_table
from cliptagger.gui.widgets.results_panel import PREVIEW_SIZE, ResultsPanel
from cliptagger.gui.widgets.screen_fit import fit_to_screen
from cliptagger.gui.widgets.status_bar import StatusWidgets
from cliptagger.gui.wording import plural
from cliptagger.gui.workers.tagging import WorkerClient
from cliptagger.gui.workers.thumbnails import ThumbnailLoader
from cliptagger.settings import Settings, save_settings

THUMB_SIZE = 64

if TYPE_CHECKING:
    from cliptagger.core.tagging.engine import Progress


class MainWindow(QMainWindow):
    # Emitted on the UI thread once the window has taken in the worker's news (tests wait on them).
    run_done = Signal(bool)
    rescore_finished = Signal(int)

    def __init__(self, settings: Settings, label_sets: list[LabelSet]) -> None:
        super().__init__()
        self.settings = settings
        self.session = Session(label_sets, EngineOptions(background_priority=True, keyword_root=settings.keyword_root))
        self.client = WorkerClient(self.session, self)
        self.running = False
        self._run_when_ready = False
        self.setWindowTitle("cliptagger")
        self.setAcceptDrops(True)
        self.resize(1280, 820)

        self.images = ImageListModel(self.session, self)
        self.sorted = ImageSortModel(self.images, self)
        self.table = build_photo_table(self.sorted, THUMB_SIZE)
        self.table.selectionModel().currentRowChanged.connect(self._current_changed)
        self.panel = ResultsPanel(self.session)
        self.panel.tab_from = self.table
        self.splitter = QSplitter()
        self.search = SearchController(self, self.session, self.images, self.sorted, self.table)
        self.splitter.addWidget(self.search.widget)  # the search box above the table
        self.splitter.addWidget(self.panel)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 2)
        self.setCentralWidget(self.splitter)

        self.thumbnails = ThumbnailLoader(self)
        self.thumbnails.ready.connect(self._thumbnail_ready)
        self.images.thumbnail_source = self._row_thumbnail
        self.models = ModelController(self, settings, self.client, self.session, lambda: self.session.counts().unwritten)
        self.sidecars = SidecarController(self, self.session, self.client, self.images, settings,
                                          self.statusBar().showMessage)
        self.sidecars.changed.connect(self._sidecars_changed)
        self.models.ready_changed.connect(self._model_ready_changed)
        self.actions = build_actions(self)
        self.recent_menu, tagging_menu = build_menus(self, self.actions)
        self.learning = LearningController(self)  # re-learns after decisions; Tagging > Learn…
        tagging_menu.addSeparator()
        tagging_menu.addAction(self.learning.action)
        self.learning.scores_changed.connect(self._current_changed)
        self.labels = LabelSetsController(self, label_sets, settings, self.session, self.client, self.models,
                                          self.learning, self._warn)
        self.intake = PhotoIntake(self, settings, self.images, self.client, self.recent_menu)
        self.intake.added.connect(self._photos_added)
        self.review = ReviewController(self.images, self.sorted, self.table, self.panel, self.client,
                                       self.statusBar().showMessage, self)
        self.review.reviewed.connect(self._reviewed)
        self.explain = ExplainController(self, self.session, self.panel, self.statusBar().showMessage)
        self.installEventFilter(self.intake)  # drops onto the window
        build_toolbar(self, self.actions, self.models, self.sidecars.target_picker)
        self.status = StatusWidgets(self.statusBar(), self.models.state_text)
        self.status.errors_button.clicked.connect(self.show_errors)
        self.models.state_changed.connect(self.status.show_model)
        self._connect_workers()
        # Coalesce bursts of results into one status update per 150 ms.
        self._counts_timer = QTimer(self)
        self._counts_timer.setSingleShot(True)
        self._counts_timer.setInterval(150)
        self._counts_timer.timeout.connect(self._update_counts)
        self.images.counts_changed.connect(self._counts_timer.start)
        self._restore_layout()
        self._update_actions()
        self.table.setFocus()  # arrows move between photos from the start, not in the search box
        QTimer.singleShot(0, self.models.load)

    # ------------------------------------------------------------------ building

    def _connect_workers(self) -> None:
        tagging, writer = self.client.tagging, self.client.writer
        # Bound methods only: PySide runs a lambda slot in the emitting (worker) thread.
        tagging.progress.connect(self._progress)
        tagging.result.connect(self._photo_changed)
        tagging.failure.connect(self._photo_changed)
        tagging.run_finished.connect(self._run_finished)
        tagging.tagging_failed.connect(self._tagging_failed)
        tagging.rescored.connect(self._rescored)
        tagging.label_sets_failed.connect(self._warn)
        tagging.warned.connect(self._warn)
        writer.keywords_read.connect(self._keywords_read)

    def _restore_layout(self) -> None:
        for value, restore in zip(self.settings.layout(), (self.restoreGeometry, self.restoreState,
                                                            self.splitter.restoreState)):
            if value:
                restore(QByteArray(value))
        fit_to_screen(self)

    # ------------------------------------------------------------------ adding photos

    def add_paths(self, paths: list[Path]) -> None:
        self.intake.add_paths(paths)

    @Slot(list)
    def _photos_added(self, added: list[Path]) -> None:
        if added and self.table.currentIndex().row() < 0:
            self.table.selectRow(0)
        self.flush_counts()

    def clear_list(self) -> None:
        if self.running or not self.sidecars.settle_unwritten("clearing the list", self.clear_list):
            return
        self.intake.stop_adding()
        self.images.clear()
        self.thumbnails.forget()
        self.panel.show_photo(None)
        self._update_actions()

    # ------------------------------------------------------------------ tagging

    def run(self) -> None:
        if self.running:
            return
        paths = self.images.pending_paths()
        if not paths:
            self.statusBar().showMessage("Nothing to tag: add photos first (Ctrl+O or drop a folder).", 5000)
            return
        if not self.models.ready:
            self._run_when_ready = True
            if not self.models.loading:
                self.models.load()  # e.g. the weights dialog was cancelled: ask again
            self.statusBar().showMessage("The model is loading; tagging starts when it is ready.")
            return
        self.running = True
        self.status.run_started(len(paths))
        self._update_actions()
        self.client.run(paths)

    def stop(self) -> None:
        if self.running:
            self.client.stop()
            self.status.stopping()

    @Slot(bool)
    def _model_ready_changed(self, ready: bool) -> None:
        if ready:
            self.images.refresh_all()  # kept results were re-scored by the new engine
            self._current_changed()
        if ready and self._run_when_ready:
            self._run_when_ready = False
            self.run()
        self._update_actions()

    @Slot(object)
    def _photo_changed(self, path: Path, *_reason: str) -> None:
        self.images.refresh([path])
        if self.panel.path == path:
            self._current_changed()

    @Slot(object)
    def _progress(self, progress: "Progress") -> None:
        self.status.show_progress(progress)

    @Slot(bool)
    def _run_finished(self, cancelled: bool) -> None:
        self.running = False
        self.status.run_finished()
        counts = self.images.counts()
        verb = "Stopped" if cancelled else "Done"
        self.statusBar().showMessage(f"{verb}: {counts.tagged} tagged, {plural(counts.errors, 'error')}. "
                                     "Review the proposals, then Write XMP (Ctrl+S).", 10000)
        self.flush_counts()
        self.run_done.emit(cancelled)

    @Slot(str)
    def _tagging_failed(self, message: str) -> None:
        QMessageBox.warning(self, "Tagging stopped", message)

    # ------------------------------------------------------------------ review

    def selected_paths(self) -> list[Path]:
        return self.review.selected_paths()

    @Slot()
    def _reviewed(self) -> None:
        self.learning.decisions_changed()
        self.flush_counts()
        self._current_changed()

    # ------------------------------------------------------------------ sidecars

    @Slot()
    def _sidecars_changed(self) -> None:
        self._reviewed()

    @Slot(list)
    def _keywords_read(self, paths: list) -> None:
        if self.panel.path in paths:
            self._current_changed()

    def show_notices(self, notices: list[str]) -> None:
        """What happened at start that the user must know (a damaged settings file set aside...)."""
        if notices:
            self._warn("\n\n".join(notices))

    def _warn(self, message: str) -> None:
        """Not modal: a warning must not stop the window (or a worker's next report)."""
        self.warning_box = QMessageBox(QMessageBox.Warning, "cliptagger", message, parent=self)
        self.warning_box.open()

    # ------------------------------------------------------------------ label sets

    def edit_label_sets(self) -> LabelSetEditor:
        return self.labels.edit()

    def apply_label_sets(self, label_sets: list[LabelSet]) -> None:
        self.labels.apply(label_sets)

    @property
    def label_sets(self) -> list[LabelSet]:
        return self.labels.label_sets

    @property
    def label_editor(self) -> Optional[LabelSetEditor]:
        return self.labels.editor

    @Slot(int)
    def _rescored(self, count: int) -> None:
        self.images.refresh_all()
        if count:
            self.statusBar().showMessage(f"Re-scored {plural(count, 'photo')} with the new label sets.", 5000)
        self._current_changed()
        self.rescore_finished.emit(count)

    # ------------------------------------------------------------------ panel, status

    def _current_changed(self, *_args) -> None:
        path = self.sorted.path_at(self.table.currentIndex().row())
        self.panel.show_photo(path, self.images.status(path).value if path is not None else "")
        if path is not None:
            pixmap = self.thumbnails.request(path, PREVIEW_SIZE)
            self.panel.set_preview(pixmap if pixmap is not None else self.thumbnails.cached(path, THUMB_SIZE))
        self.explain.preview_shown(path)
        self._update_actions()

    def _row_thumbnail(self, path: Path) -> "Optional[QPixmap]":
        return self.thumbnails.request(path, THUMB_SIZE)

    @Slot(object, int, object)
    def _thumbnail_ready(self, path: Path, size: int, pixmap: QPixmap) -> None:
        if size == THUMB_SIZE:
            self.images.thumbnail_ready(path)
        if self.panel.path == path:
            self.panel.set_preview(pixmap)
            self.explain.preview_shown(path)

    def flush_counts(self) -> None:
        """Bring the status bar and actions up to date now (tests, and before dialogs)."""
        self._counts_timer.stop()
        self._update_counts()

    def _update_counts(self) -> None:
        self.status.show_counts(self.images.counts())
        self._update_actions()

    def _update_actions(self) -> None:  # O(1): the counts are kept by the session
        counts = self.session.counts()
        self.actions.enable(running=self.running, photos=counts.photos, pending=counts.pending, tagged=counts.tagged,
                            unwritten=counts.unwritten, can_undo=self.sidecars.can_undo)
        self.models.model_picker.setEnabled(not self.running)
        self.models.device_picker.setEnabled(not self.running)

    def show_errors(self) -> None:
        self.errors_dialog = dialogs.show_errors(self, self.images.errors())

    def show_help(self) -> None:
        self.help_dialog = dialogs.show_help(self, shortcut_list(self.actions))

    def about(self) -> None:
        dialogs.show_about(self, self.models.state_text)

    # ------------------------------------------------------------------ closing

    def closeEvent(self, event: QCloseEvent) -> None:
        if not self.sidecars.settle_unwritten("quitting", self.close):
            event.ignore()
            return
        self.client.stop()
        self.settings.remember_layout(self.saveGeometry(), self.saveState(), self.splitter.saveState())
        try:
            save_settings(self.settings)
        except OSError:
            pass  # the layout is a convenience: quitting must not fail for it
        self.hide()  # gone from the screen at once: a model still loading may hold the exit for seconds
        QApplication.processEvents(QEventLoop.ExcludeUserInputEvents)
        self.thumbnails.shutdown()
        self.intake.shutdown()
        self.search.shutdown()
        self.explain.shutdown()
        self.client.shutdown()
        event.accept()
