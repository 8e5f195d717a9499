"""The main window: lays out the widgets and forwards the user's actions.

Photos, results and decisions live in the core ``Session``; the list model shows them, the
workers run the session's heavy verbs off the UI thread, the model controller owns the
model's lifecycle. This class only wires them together.
"""

from __future__ import annotations

import base64
import os
from pathlib import Path
from typing import Any, Callable, Optional

from PySide6.QtCore import QByteArray, QSize, Qt, QTimer, Signal, Slot
from PySide6.QtGui import QCloseEvent, QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QFileDialog,
    QHeaderView,
    QLabel,
    QMainWindow,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QSplitter,
    QTableView,
)

from cliptagger import __version__
from cliptagger.core.export import ExportFormat
from cliptagger.core.labels import LabelSet
from cliptagger.core.review import Decision, TagKey
from cliptagger.core.scan import SUPPORTED_EXTENSIONS
from cliptagger.core.session import EngineOptions, Session
from cliptagger.core.sidecars import SidecarStyle
from cliptagger.gui import dialogs
from cliptagger.gui.actions import build_actions, build_menus, build_toolbar
from cliptagger.gui.image_list import ImageListModel, ImageSortModel, Status
from cliptagger.gui.label_editor import LabelSetEditor
from cliptagger.gui.model_controller import ModelController
from cliptagger.gui.results_panel import PREVIEW_SIZE, ResultsPanel
from cliptagger.gui.scanner import FolderScanner
from cliptagger.gui.thumbnails import ThumbnailLoader
from cliptagger.gui.worker import WorkerClient
from cliptagger.progress import format_duration
from cliptagger.settings import Settings, label_family, save_settings, save_user_label_sets

THUMB_SIZE = 64
EXPORT_FILTERS = {ExportFormat.SCORES: "Scores for spreadsheets (*.csv)",
                  ExportFormat.EXIFTOOL: "Keywords for exiftool -csv+= (*.csv)"}


class MainWindow(QMainWindow):
    # Emitted on the UI thread once the window has taken in the worker's news (tests wait on them).
    run_done = Signal(bool)
    write_finished = Signal(object)
    undo_finished = Signal(object)
    export_finished = Signal(object)
    rescore_finished = Signal(int)

    def __init__(self, settings: Settings, label_sets: list[LabelSet]) -> None:
        super().__init__()
        self.settings = settings
        self.label_sets = list(label_sets)
        self.session = Session(self.label_sets, EngineOptions(background_priority=True))
        self.client = WorkerClient(self.session, self)
        self.running = False
        self._run_when_ready = False
        self._after_write: Optional[Callable[[], None]] = None
        self._can_undo = Session.can_undo()
        self.setWindowTitle("cliptagger")
        self.setAcceptDrops(True)
        self.resize(1280, 820)

        self.images = ImageListModel(self.session, self)
        self.sorted = ImageSortModel(self.images, self)
        self.table = self._build_table()
        self.panel = ResultsPanel(self.session)
        self.panel.decision.connect(self._decide_one)
        self.splitter = QSplitter()
        self.splitter.addWidget(self.table)
        self.splitter.addWidget(self.panel)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 2)
        self.setCentralWidget(self.splitter)

        self.thumbnails = ThumbnailLoader(self)
        self.thumbnails.ready.connect(self._thumbnail_ready)
        self.scanner = FolderScanner(self)
        self.scanner.scanned.connect(self._scanned)
        self.models = ModelController(self, settings, self.client, self.session, lambda: len(self.session.unwritten()))
        self.models.ready_changed.connect(self._model_ready_changed)
        self.models.state_changed.connect(lambda text: self.model_label.setText(text))
        self.models.family_changed.connect(self._family_changed)
        self.actions = build_actions(self)
        self.recent_menu = build_menus(self, self.actions)
        self._fill_recent_menu()
        self.style_picker = build_toolbar(self, self.actions, self.models, settings.sidecar_style)
        self.style_picker.activated.connect(self._style_picked)
        self._build_status_bar()
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

    def _build_table(self) -> QTableView:
        table = QTableView()
        table.setModel(self.sorted)
        table.setSortingEnabled(True)
        table.sortByColumn(-1, Qt.AscendingOrder)  # the order photos were added, until a header is clicked
        table.setSelectionBehavior(QAbstractItemView.SelectRows)
        table.setSelectionMode(QAbstractItemView.ExtendedSelection)
        table.setIconSize(QSize(THUMB_SIZE, THUMB_SIZE))
        table.verticalHeader().setDefaultSectionSize(THUMB_SIZE + 8)
        table.verticalHeader().hide()
        table.setAlternatingRowColors(True)
        table.setWordWrap(False)
        header = table.horizontalHeader()
        # Not ResizeToContents: it re-measures every row on each dataChanged (seconds on big lists).
        header.setSectionResizeMode(0, QHeaderView.Interactive)
        header.setSectionResizeMode(1, QHeaderView.Interactive)
        header.setSectionResizeMode(2, QHeaderView.Stretch)
        table.setColumnWidth(0, 260)
        table.setColumnWidth(1, 80)
        table.selectionModel().currentRowChanged.connect(self._current_changed)
        return table

    def _build_status_bar(self) -> None:
        bar = self.statusBar()
        self.model_label = QLabel(self.models.state_text)
        self.counts_label = QLabel("")
        self.rate_label = QLabel("")
        self.progress = QProgressBar()
        self.progress.setMaximumWidth(240)
        self.progress.hide()
        self.errors_button = QPushButton("0 errors")
        self.errors_button.setFlat(True)
        self.errors_button.clicked.connect(self.show_errors)
        for widget in (self.counts_label, self.progress, self.rate_label, self.errors_button, self.model_label):
            bar.addPermanentWidget(widget)

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
        writer.write_done.connect(self._write_done)
        writer.undo_done.connect(self._undo_done)
        writer.export_done.connect(self._export_done)
        writer.keywords_read.connect(self._keywords_read)
        writer.failed.connect(self._writer_failed)

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
        self.client.read_keywords(added)
        for path in added:
            self.thumbnails.request(path, THUMB_SIZE)
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
        if self.running or not self._settle_unwritten("clearing the list", self.clear_list):
            return
        self.images.clear()
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
            self.statusBar().showMessage("The model is loading; tagging starts when it is ready.")
            return
        self.running = True
        self.progress.setRange(0, len(paths))
        self.progress.setValue(0)
        self.progress.show()
        self.rate_label.setText("starting…")
        self._update_actions()
        self.client.run(paths)

    def stop(self) -> None:
        if self.running:
            self.client.stop()
            self.rate_label.setText("stopping after this batch…")

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
    def _progress(self, progress: Any) -> None:
        self.progress.setMaximum(progress.total)
        self.progress.setValue(progress.done)
        self.rate_label.setText(f"{progress.images_per_s:.1f} img/s · ETA {format_duration(progress.eta_s)}")

    @Slot(object)
    def _photo_changed(self, path: Path, *_reason: Any) -> None:
        self.images.refresh([path])
        if self.panel.path == path:
            self._current_changed()

    @Slot(bool)
    def _run_finished(self, cancelled: bool) -> None:
        self.running = False
        self.progress.hide()
        self.rate_label.setText("")
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
        rows = sorted({index.row() for index in self.table.selectionModel().selectedRows()})
        return [self.sorted.path_at(row) for row in rows]

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
        self.flush_counts()
        self._current_changed()

    # ------------------------------------------------------------------ sidecars

    def write_xmp(self) -> None:
        if not self.session.unwritten():
            self.statusBar().showMessage("No accepted tags to write: accept proposals first (Ctrl+Return).", 5000)
            return
        self.statusBar().showMessage("Writing sidecars…")
        self.actions.write.setEnabled(False)
        self.client.write(SidecarStyle(self.settings.sidecar_style))

    @Slot(object)
    def _write_done(self, report: Any) -> None:
        self.images.refresh(report.images_saved)
        self._can_undo = Session.can_undo()
        message = (f"Wrote {len(report.written)} sidecar(s), {len(report.unchanged)} already up to date"
                   + (f", {len(report.failed)} failed" if report.failed else "") + ". Undo: Ctrl+Z.")
        self.statusBar().showMessage(message, 10000)
        if report.failed or report.warnings:
            details = "\n".join([f"{p}: {r}" for p, r in report.failed] + [f"Note: {w}" for w in report.warnings])
            box = QMessageBox(QMessageBox.Warning if report.failed else QMessageBox.Information, "Write XMP",
                              message, parent=self)
            box.setDetailedText(details)
            box.open()
        self._review("")
        self.write_finished.emit(report)
        after, self._after_write = self._after_write, None
        if after is not None and not report.failed:
            after()

    def undo_write(self) -> None:
        self.client.undo()

    @Slot(object)
    def _undo_done(self, report: Any) -> None:
        self._can_undo = Session.can_undo()
        if report.batch is None:
            self.statusBar().showMessage("Nothing to undo.", 4000)
        else:
            message = f"Undone: {len(report.restored)} sidecar(s) restored, {len(report.removed)} removed"
            if report.skipped:
                message += f", {len(report.skipped)} left as they are (changed since)"
            self.statusBar().showMessage(message + ".", 10000)
        self.images.refresh_all()
        self._review("")
        self.undo_finished.emit(report)

    @Slot(list)
    def _keywords_read(self, paths: list) -> None:
        if self.panel.path in paths:
            self._current_changed()

    @Slot(str)
    def _writer_failed(self, message: str) -> None:
        self._after_write = None
        self._update_actions()
        self._warn(message)

    def _warn(self, message: str) -> None:
        QMessageBox.warning(self, "cliptagger", message)

    # ------------------------------------------------------------------ export

    def choose_export(self) -> None:
        photos = [str(p.parent) for p in self.images.paths]
        start = os.path.commonpath(photos) if photos else (self.settings.last_export_folder or str(Path.home()))
        path, chosen = QFileDialog.getSaveFileName(self, "Export CSV", str(Path(start) / "cliptagger.csv"),
                                                   ";;".join(EXPORT_FILTERS.values()))
        if path:
            form = next((f for f, text in EXPORT_FILTERS.items() if text == chosen), ExportFormat.SCORES)
            self.export_csv(Path(path), form)

    def export_csv(self, path: Path, form: ExportFormat) -> None:
        self.settings.last_export_folder = str(path.parent)
        self.client.export(path, form)

    @Slot(object)
    def _export_done(self, report: Any) -> None:
        self.statusBar().showMessage(f"Exported {report.rows} photo(s) to {report.path}.", 10000)
        if report.command:
            self.command_dialog = dialogs.CommandDialog(
                self, "Apply the keywords with exiftool",
                "This command adds the keywords in the CSV to the photos' own metadata (exiftool keeps a "
                "backup of each file as NAME_original):", report.command)
            self.command_dialog.show()
        self.export_finished.emit(report)

    # ------------------------------------------------------------------ label sets

    def edit_label_sets(self) -> None:
        editor = LabelSetEditor(self.label_sets, self)
        if editor.exec() == QDialog.Accepted:
            self.apply_label_sets(editor.label_sets())

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
        from cliptagger.settings import load_user_label_sets

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
            self.panel.set_preview(pixmap if pixmap is not None else self.images.thumbnail(path))
        self._update_actions()

    @Slot(object, int, object)
    def _thumbnail_ready(self, path: Path, size: int, pixmap: Any) -> None:
        if size == THUMB_SIZE:
            self.images.set_thumbnail(path, pixmap)
        if self.panel.path == path:
            self.panel.set_preview(pixmap)

    def _style_picked(self, _index: int) -> None:
        self.settings.sidecar_style = self.style_picker.currentData()

    def flush_counts(self) -> None:
        """Bring the status bar and actions up to date now (tests, and before dialogs)."""
        self._counts_timer.stop()
        self._update_counts()

    def _update_counts(self) -> None:
        counts = self.images.counts()
        self.counts_label.setText(f"{counts.photos} photos · {counts.tagged} tagged")
        self.errors_button.setText(f"{counts.errors} error{'s' if counts.errors != 1 else ''}")
        self.errors_button.setStyleSheet("color: #c62828; font-weight: bold" if counts.errors else "")
        self._update_actions()

    def _update_actions(self) -> None:
        a, has_results = self.actions, self.images.has_results()
        a.run.setEnabled(not self.running and bool(self.images.pending_paths()))
        a.stop.setEnabled(self.running)
        self.models.model_picker.setEnabled(not self.running)
        self.models.device_picker.setEnabled(not self.running)
        for action in (a.accept, a.reject, a.accept_all, a.export):
            action.setEnabled(has_results)
        a.write.setEnabled(bool(self.session.unwritten()))
        a.undo.setEnabled(self._can_undo)
        a.clear.setEnabled(not self.running and bool(self.images.paths))

    def show_errors(self) -> None:
        self.errors_dialog = dialogs.show_errors(self, self.images.errors())

    def show_help(self) -> None:
        self.help_dialog = dialogs.show_help(self)

    def about(self) -> None:
        QMessageBox.about(self, "About cliptagger",
                          f"<b>cliptagger {__version__}</b><br>Zero-shot photo tagging with CLIP (open_clip).<br>"
                          "Tags go to XMP sidecars that Lightroom, darktable and digiKam read.<br><br>"
                          f"{self.models.state_text}")

    # ------------------------------------------------------------------ closing

    def _settle_unwritten(self, doing: str, then: Callable[[], None]) -> bool:
        """True when it is safe to go on now; Write runs ``then`` again once the write is done."""
        unwritten = len(self.session.unwritten())
        if not unwritten:
            return True
        choice = dialogs.ask_about_unwritten(self, unwritten, doing)
        if choice is dialogs.UnwrittenChoice.WRITE:
            self._after_write = then
            self.write_xmp()
            return False
        return choice is dialogs.UnwrittenChoice.DISCARD

    def closeEvent(self, event: QCloseEvent) -> None:
        if not self._settle_unwritten("quitting", self.close):
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
        self.client.shutdown()
        event.accept()
