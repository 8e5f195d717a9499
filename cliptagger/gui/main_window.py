"""The main window: lays out the widgets and forwards the user's actions.

Photos, results and decisions live in the core ``Session``; the list model shows them, the
workers run the session's heavy verbs off the UI thread, the model controller owns the
model's lifecycle. This class only wires them together.
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import TYPE_CHECKING, Optional

from PySide6.QtCore import QByteArray, QTimer, Signal, Slot
from PySide6.QtGui import QCloseEvent, QDragEnterEvent, QDropEvent, QPixmap
from PySide6.QtWidgets import QDialog, QFileDialog, QMainWindow, QMessageBox, QSplitter

from cliptagger.core.media.scan import SUPPORTED_EXTENSIONS
from cliptagger.core.session.decisions import Decision, TagKey
from cliptagger.core.session.facade import EngineOptions, Session
from cliptagger.core.tagging.labels import LabelSet
from cliptagger.gui.actions import build_actions, build_menus, build_toolbar
from cliptagger.gui.controllers.learning import LearningController
from cliptagger.gui.controllers.model import ModelController
from cliptagger.gui.controllers.search import SearchController
from cliptagger.gui.controllers.sidecar import SidecarController
from cliptagger.gui.widgets import dialogs
from cliptagger.gui.widgets.image_list import ImageListModel, ImageSortModel
from cliptagger.gui.widgets.label_editor import LabelSetEditor
from cliptagger.gui.widgets.photo_table import build_photo_table
from cliptagger.gui.widgets.results_panel import PREVIEW_SIZE, ResultsPanel
from cliptagger.gui.widgets.status_bar import StatusWidgets
from cliptagger.gui.workers.scanner import FolderScanner
from cliptagger.gui.workers.tagging import WorkerClient
from cliptagger.gui.workers.thumbnails import ThumbnailLoader
from cliptagger.settings import Settings, save_settings
from cliptagger.user_label_sets import label_family, save_user_label_sets

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
        self.label_sets = list(label_sets)
        self.session = Session(self.label_sets, EngineOptions(background_priority=True))
        self.client = WorkerClient(self.session, self)
        self.running = False
        self._run_when_ready = False
        self.label_editor: Optional[LabelSetEditor] = None  # while the label set editor is open
        self.setWindowTitle("cliptagger")
        self.setAcceptDrops(True)
        self.resize(1280, 820)

        self.images = ImageListModel(self.session, self)
        self.sorted = ImageSortModel(self.images, self)
        self.table = build_photo_table(self.sorted, THUMB_SIZE)
        self.table.selectionModel().currentRowChanged.connect(self._current_changed)
        self.panel = ResultsPanel(self.session)
        self.panel.decision.connect(self._decide_one)
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
        self.scanner = FolderScanner(self)
        self.scanner.scanned.connect(self._scanned)
        self.models = ModelController(self, settings, self.client, self.session, lambda: self.session.counts().unwritten)
        self.sidecars = SidecarController(self, self.session, self.client, self.images, settings,
                                          self.statusBar().showMessage)
        self.sidecars.changed.connect(self._sidecars_changed)
        self.models.ready_changed.connect(self._model_ready_changed)
        self.models.family_changed.connect(self._family_changed)
        self.actions = build_actions(self)
        self.recent_menu, tagging_menu = build_menus(self, self.actions)
        self.learning = LearningController(self)  # re-learns after decisions; Tagging > Learn…
        tagging_menu.addSeparator()
        tagging_menu.addAction(self.learning.action)
        self.learning.scores_changed.connect(self._current_changed)
        self._fill_recent_menu()
        self.style_picker = build_toolbar(self, self.actions, self.models, settings.sidecar_style)
        self.style_picker.activated.connect(self._style_picked)
        self.status = StatusWidgets(self.statusBar(), self.models.state_text)
        self.status.errors_button.clicked.connect(self.show_errors)
        self.models.state_changed.connect(self.status.model_label.setText)
        self._connect_workers()
        # Counting is O(photos): coalesce bursts of results into one update per 150 ms.
        self._counts_timer = QTimer(self)
        self._counts_timer.setSingleShot(True)
        self._counts_timer.setInterval(150)
        self._counts_timer.timeout.connect(self._update_counts)
        self.images.counts_changed.connect(self._counts_timer.start)
        self._restore_layout()
        self._update_actions()
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
        for value, restore in ((self.settings.window_geometry, self.restoreGeometry),
                               (self.settings.window_state, self.restoreState),
                               (self.settings.splitter_state, self.splitter.restoreState)):
            if value:
                restore(QByteArray(base64.b64decode(value)))

    def _fill_recent_menu(self) -> None:
        self.recent_menu.clear()
        for folder in self.settings.recent_folders:
            self.recent_menu.addAction(folder, lambda f=folder: self.add_paths([Path(f)]))
        self.recent_menu.setEnabled(bool(self.settings.recent_folders))

    # ------------------------------------------------------------------ adding photos

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if event.mimeData().hasUrls() and any(u.isLocalFile() for u in event.mimeData().urls()):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event) -> None:
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        paths = [Path(u.toLocalFile()) for u in event.mimeData().urls() if u.isLocalFile()]
        if paths:
            event.acceptProposedAction()
            self.add_paths(paths)

    def choose_folder(self) -> None:
        start = self.settings.recent_folders[0] if self.settings.recent_folders else str(Path.home())
        folder = QFileDialog.getExistingDirectory(self, "Add a folder of photos", start)
        if folder:
            self.add_paths([Path(folder)])

    def choose_files(self) -> None:
        patterns = " ".join(f"*{ext}" for ext in sorted(SUPPORTED_EXTENSIONS))
        files, _ = QFileDialog.getOpenFileNames(self, "Add photos", "", f"Photos ({patterns});;All files (*)")
        if files:
            self.add_paths([Path(f) for f in files])

    def add_paths(self, paths: list[Path]) -> None:
        for path in paths:
            if path.is_dir():
                self.settings.remember_folder(str(path))
        self._fill_recent_menu()
        self.statusBar().showMessage("Looking for photos…")
        self.scanner.scan(paths)

    @Slot(object, object)
    def _scanned(self, images: list[Path], problems: list) -> None:
        added = self.images.add_paths(images)
        self.client.read_keywords(added)  # thumbnails: asked by the table for the rows it paints
        message = f"Added {len(added)} photo{'s' if len(added) != 1 else ''}"
        if len(images) > len(added):
            message += f" ({len(images) - len(added)} already in the list)"
        if problems:
            message += f"; {len(problems)} item(s) skipped: " + "; ".join(f"{p.name}: {r}" for p, r in problems[:3])
        self.statusBar().showMessage(message, 8000)
        if added and self.table.currentIndex().row() < 0:
            self.table.selectRow(0)
        self.flush_counts()

    def clear_list(self) -> None:
        if self.running or not self.sidecars.settle_unwritten("clearing the list", self.clear_list):
            return
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
        self.statusBar().showMessage(f"{verb}: {counts.tagged} tagged, {counts.errors} error(s). "
                                     "Review the proposals, then Write XMP (Ctrl+S).", 10000)
        self.flush_counts()
        self.run_done.emit(cancelled)

    @Slot(str)
    def _tagging_failed(self, message: str) -> None:
        QMessageBox.warning(self, "Tagging stopped", message)

    # ------------------------------------------------------------------ review

    def selected_paths(self) -> list[Path]:
        return self.sorted.paths_in(self.table.selectionModel().selection())

    def accept_selected(self) -> None:
        self._review(f"Accepted {self.images.decide(self.selected_paths(), Decision.ACCEPTED)} tag(s).")

    def reject_selected(self) -> None:
        self._review(f"Rejected {self.images.decide(self.selected_paths(), Decision.REJECTED)} tag(s).")

    def accept_all(self) -> None:
        count = self.images.accept_above_threshold()
        self._review(f"Accepted {count} pending proposal(s); rejected tags stay rejected.")

    def _decide_one(self, key: TagKey, decision: Optional[Decision]) -> None:
        if self.panel.path is not None:
            self.images.decide([self.panel.path], decision, key)
            self._review("")

    def _review(self, message: str) -> None:
        if message:
            self.statusBar().showMessage(message, 4000)
        self.learning.decisions_changed()
        self.flush_counts()
        self._current_changed()

    # ------------------------------------------------------------------ sidecars

    @Slot()
    def _sidecars_changed(self) -> None:
        self._review("")

    @Slot(list)
    def _keywords_read(self, paths: list) -> None:
        if self.panel.path in paths:
            self._current_changed()

    def _warn(self, message: str) -> None:
        """Not modal: a warning must not stop the window (or a worker's next report)."""
        self.warning_box = QMessageBox(QMessageBox.Warning, "cliptagger", message, parent=self)
        self.warning_box.open()

    # ------------------------------------------------------------------ label sets

    def edit_label_sets(self) -> LabelSetEditor:
        """Open the label set editor (window-modal); its target precision re-learns live, and
        Cancel puts the one the dialog opened with back."""
        editor = LabelSetEditor(self.label_sets, self, learned=self.session.learned,
                                target_precision=self.settings.target_precision)
        self.label_editor = editor
        self._editor_precision = self.settings.target_precision
        editor.target_precision_changed.connect(self.learning.set_target_precision)
        self.learning.relearned.connect(self._learned_for_editor)
        editor.finished.connect(self._label_editor_closed)
        editor.open()
        return editor

    @Slot(int)
    def _learned_for_editor(self, _count: int) -> None:
        if self.label_editor is not None:
            self.label_editor.learned_changed(self.session.learned)

    @Slot(int)
    def _label_editor_closed(self, result: int) -> None:
        editor, self.label_editor = self.label_editor, None
        self.learning.relearned.disconnect(self._learned_for_editor)
        if editor is None:
            return
        editor.settle()
        if result == QDialog.Accepted:
            self.apply_label_sets(editor.label_sets())
            if editor.target_precision_value() != self.settings.target_precision:  # OK before it settled
                self.learning.set_target_precision(editor.target_precision_value())
        elif self.settings.target_precision != self._editor_precision:  # applied live: put it back
            self.learning.set_target_precision(self._editor_precision)
        editor.deleteLater()

    def apply_label_sets(self, label_sets: list[LabelSet]) -> None:
        self.label_sets = list(label_sets)
        family = label_family(self.models.model_key)
        try:
            where = save_user_label_sets(self.label_sets, family)
            self.statusBar().showMessage(f"Label sets saved to {where}"
                                         + (" (the demo model keeps its own)" if family == "demo" else ""), 8000)
        except OSError as err:
            self._warn(f"The label sets could not be saved: {err}")
        self.client.rescore(self.label_sets)

    @Slot(str)
    def _family_changed(self, family: str) -> None:
        from cliptagger.user_label_sets import load_user_label_sets

        self.label_sets = load_user_label_sets(family)
        self.client.rescore(self.label_sets)

    @Slot(int)
    def _rescored(self, count: int) -> None:
        self.images.refresh_all()
        if count:
            self.statusBar().showMessage(f"Re-scored {count} photo(s) with the new label sets.", 5000)
        self._current_changed()
        self.rescore_finished.emit(count)

    # ------------------------------------------------------------------ panel, status

    def _current_changed(self, *_args) -> None:
        path = self.sorted.path_at(self.table.currentIndex().row())
        self.panel.show_photo(path, self.images.status(path).value if path is not None else "")
        if path is not None:
            pixmap = self.thumbnails.request(path, PREVIEW_SIZE)
            self.panel.set_preview(pixmap if pixmap is not None else self.thumbnails.cached(path, THUMB_SIZE))
        self._update_actions()

    def _row_thumbnail(self, path: Path) -> "Optional[QPixmap]":
        return self.thumbnails.request(path, THUMB_SIZE)

    @Slot(object, int, object)
    def _thumbnail_ready(self, path: Path, size: int, pixmap: QPixmap) -> None:
        if size == THUMB_SIZE:
            self.images.thumbnail_ready(path)
        if self.panel.path == path:
            self.panel.set_preview(pixmap)

    def _style_picked(self, _index: int) -> None:
        self.settings.sidecar_style = self.style_picker.currentData()

    def flush_counts(self) -> None:
        """Bring the status bar and actions up to date now (tests, and before dialogs)."""
        self._counts_timer.stop()
        self._update_counts()

    def _update_counts(self) -> None:
        self.status.show_counts(self.images.counts())
        self._update_actions()

    def _update_actions(self) -> None:
        a, has_results = self.actions, self.images.has_results()
        a.run.setEnabled(not self.running and self.images.has_pending())
        a.stop.setEnabled(self.running)
        self.models.model_picker.setEnabled(not self.running)
        self.models.device_picker.setEnabled(not self.running)
        for action in (a.accept, a.reject, a.accept_all, a.export):
            action.setEnabled(has_results)
        a.write.setEnabled(self.session.counts().unwritten > 0)  # O(1): kept by the session
        a.undo.setEnabled(self.sidecars.can_undo)
        a.clear.setEnabled(not self.running and bool(self.images.paths))

    def show_errors(self) -> None:
        self.errors_dialog = dialogs.show_errors(self, self.images.errors())

    def show_help(self) -> None:
        self.help_dialog = dialogs.show_help(self)

    def about(self) -> None:
        dialogs.show_about(self, self.models.state_text)

    # ------------------------------------------------------------------ closing

    def closeEvent(self, event: QCloseEvent) -> None:
        if not self.sidecars.settle_unwritten("quitting", self.close):
            event.ignore()
            return
        self.client.stop()
        for name, value in (("window_geometry", self.saveGeometry()), ("window_state", self.saveState()),
                            ("splitter_state", self.splitter.saveState())):
            setattr(self.settings, name, base64.b64encode(bytes(value)).decode("ascii"))
        try:
            save_settings(self.settings)
        except OSError:
            pass
        self.thumbnails.shutdown()
        self.scanner.shutdown()
        self.search.shutdown()
        self.client.shutdown()
        event.accept()
