"""The main window: image list, results panel, toolbar, menus, status bar, drag and drop."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any, Optional

from PySide6.QtCore import QByteArray, QSize, Qt, QTimer, Signal, Slot
from PySide6.QtGui import QAction, QCloseEvent, QDragEnterEvent, QDropEvent, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFileDialog,
    QHeaderView,
    QLabel,
    QMainWindow,
    QMessageBox,
    QProgressBar,
    QProgressDialog,
    QPushButton,
    QSplitter,
    QStyle,
    QTableView,
    QTextEdit,
    QDialog,
    QVBoxLayout,
)

from cliptagger import __version__
from cliptagger.core.catalog import CATALOG, DEMO_KEY
from cliptagger.core.device import DEVICE_CHOICES
from cliptagger.core.labels import LabelSet
from cliptagger.gui.image_list import ImageItem, ImageListModel, Status
from cliptagger.gui.label_editor import LabelSetEditor
from cliptagger.gui.model_dialog import WeightsDialog
from cliptagger.gui.results_panel import PREVIEW_SIZE, ResultsPanel
from cliptagger.gui.scanner import FolderScanner
from cliptagger.gui.thumbnails import ThumbnailLoader
from cliptagger.gui.worker import WorkerClient
from cliptagger.progress import format_duration
from cliptagger.settings import (
    Settings,
    demo_label_sets,
    load_user_label_sets,
    save_settings,
    save_user_label_sets,
)

THUMB_SIZE = 64
CHECKPOINT_ITEM = "Weights file…"


class MainWindow(QMainWindow):
    # Emitted on the UI thread once the window has taken in the worker's news.
    run_done = Signal(bool)
    write_finished = Signal(object)
    undo_finished = Signal(object)
    export_finished = Signal(str)
    rescore_finished = Signal(int)

    def __init__(self, settings: Settings, label_sets: list[LabelSet], client: Optional[WorkerClient] = None) -> None:
        super().__init__()
        self.settings = settings
        self.label_sets = list(label_sets)
        self.client = client or WorkerClient(self)
        self.model_ready = False
        self.running = False
        self._run_when_ready = False
        self._last_written: set[Path] = set()  # what Undo Last Write takes back
        self._model_key = settings.model
        self.setWindowTitle("cliptagger")
        self.setAcceptDrops(True)
        self.resize(1280, 820)

        self.images = ImageListModel(self)
        self.table = QTableView()
        self.table.setModel(self.images)
        self.table.setSelectionBehavior(QAbstractItemView.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.ExtendedSelection)
        self.table.setIconSize(QSize(THUMB_SIZE, THUMB_SIZE))
        self.table.verticalHeader().setDefaultSectionSize(THUMB_SIZE + 8)
        self.table.verticalHeader().hide()
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.Interactive)
        # Not ResizeToContents: it re-measures every row on each dataChanged (seconds on big lists).
        header.setSectionResizeMode(1, QHeaderView.Interactive)
        header.setSectionResizeMode(2, QHeaderView.Stretch)
        self.table.setColumnWidth(0, 260)
        self.table.setColumnWidth(1, 80)
        self.table.selectionModel().currentRowChanged.connect(self._current_changed)
        self.panel = ResultsPanel()
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

        self._build_actions()
        self._build_menus()
        self._build_toolbar()
        self._build_status_bar()
        self._connect_worker()
        # Counting is O(images): coalesce bursts of results into one update per 150 ms.
        self._counts_timer = QTimer(self)
        self._counts_timer.setSingleShot(True)
        self._counts_timer.setInterval(150)
        self._counts_timer.timeout.connect(self._update_counts)
        self.images.counts_changed.connect(self._counts_timer.start)
        self._restore_layout()
        self._update_actions()
        self.client.set_label_sets(self.label_sets)
        QTimer.singleShot(0, self.load_model)

    # ------------------------------------------------------------------ building

    def _action(self, text: str, slot, shortcut: Any = None, tip: str = "", icon: Any = None) -> QAction:
        action = QAction(text, self)
        if icon is not None:
            action.setIcon(self.style().standardIcon(icon))
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        action.setStatusTip(tip or text)
        action.setToolTip(f"{tip or text} ({QKeySequence(shortcut).toString()})" if shortcut else (tip or text))
        action.triggered.connect(slot)
        return action

    def _build_actions(self) -> None:
        self.add_folder_action = self._action("Add Folder…", self.choose_folder, QKeySequence.Open,
                                              "Add a folder of photos (searched recursively)", QStyle.SP_DirOpenIcon)
        self.add_files_action = self._action("Add Files…", self.choose_files, "Ctrl+Shift+O")
        self.clear_action = self._action("Clear List", self.clear_list)
        self.export_action = self._action("Export CSV…", self.choose_export, "Ctrl+E", "Export tags or scores as CSV")
        self.quit_action = self._action("Quit", self.close, QKeySequence.Quit)
        self.run_action = self._action("Run", self.run, "F5", "Tag the queued images", QStyle.SP_MediaPlay)
        self.stop_action = self._action("Stop", self.stop, "Escape", "Stop after the current batch",
                                        QStyle.SP_MediaStop)
        self.labels_action = self._action("Label Sets…", self.edit_label_sets, "Ctrl+L")
        self.accept_action = self._action("Accept Proposals", self.accept_selected, "Ctrl+Return",
                                          "Accept the proposed tags of the selected images")
        self.reject_action = self._action("Reject Proposals", self.reject_selected, "Ctrl+Backspace",
                                          "Reject the proposed tags of the selected images")
        self.accept_all_action = self._action("Accept All Above Threshold", self.accept_all, "Ctrl+Shift+Return",
                                              icon=QStyle.SP_DialogApplyButton)
        self.write_action = self._action("Write XMP", self.write_xmp, QKeySequence.Save,
                                         "Write accepted tags to XMP sidecars", QStyle.SP_DialogSaveButton)
        self.undo_action = self._action("Undo Last Write", self.undo_write, QKeySequence.Undo,
                                        icon=QStyle.SP_ArrowBack)
        self.errors_action = self._action("Show Errors", self.show_errors)
        self.about_action = self._action("About cliptagger", self.about)

    def _build_menus(self) -> None:
        bar = self.menuBar()
        file_menu = bar.addMenu("&File")
        file_menu.addActions([self.add_folder_action, self.add_files_action])
        self.recent_menu = file_menu.addMenu("Recent Folders")
        self._fill_recent_menu()
        file_menu.addSeparator()
        file_menu.addActions([self.export_action, self.clear_action])
        file_menu.addSeparator()
        file_menu.addAction(self.quit_action)
        edit_menu = bar.addMenu("&Edit")
        edit_menu.addActions([self.undo_action])
        edit_menu.addSeparator()
        edit_menu.addActions([self.accept_action, self.reject_action, self.accept_all_action])
        tag_menu = bar.addMenu("&Tagging")
        tag_menu.addActions([self.run_action, self.stop_action, self.write_action])
        tag_menu.addSeparator()
        tag_menu.addActions([self.labels_action, self.errors_action])
        help_menu = bar.addMenu("&Help")
        help_menu.addAction(self.about_action)

    def _build_toolbar(self) -> None:
        toolbar = self.addToolBar("Main")
        toolbar.setObjectName("main-toolbar")
        toolbar.setMovable(False)
        toolbar.setToolButtonStyle(Qt.ToolButtonTextBesideIcon)
        toolbar.addActions([self.add_folder_action, self.run_action, self.stop_action])
        toolbar.addSeparator()
        toolbar.addActions([self.accept_all_action, self.write_action, self.undo_action])
        toolbar.addSeparator()
        toolbar.addAction(self.labels_action)
        toolbar.addSeparator()
        toolbar.addWidget(QLabel(" Model "))
        self.model_picker = QComboBox()
        for entry in CATALOG:
            self.model_picker.addItem(entry.key, entry.key)
            self.model_picker.setItemData(self.model_picker.count() - 1, entry.good_for, Qt.ToolTipRole)
        self.model_picker.addItem(CHECKPOINT_ITEM, CHECKPOINT_ITEM)
        index = self.model_picker.findData(self.settings.model)
        self.model_picker.setCurrentIndex(max(0, index))
        self.model_picker.activated.connect(self._model_picked)
        toolbar.addWidget(self.model_picker)
        toolbar.addWidget(QLabel(" Device "))
        self.device_picker = QComboBox()
        self.device_picker.addItems(list(DEVICE_CHOICES))
        self.device_picker.setCurrentText(self.settings.device)
        self.device_picker.activated.connect(self._device_picked)
        toolbar.addWidget(self.device_picker)
        toolbar.addWidget(QLabel(" Sidecars "))
        self.style_picker = QComboBox()
        self.style_picker.addItem("IMG.jpg.xmp", "ext")
        self.style_picker.addItem("IMG.xmp (Adobe)", "adobe")
        self.style_picker.setCurrentIndex(max(0, self.style_picker.findData(self.settings.sidecar_style)))
        self.style_picker.activated.connect(lambda _i: setattr(self.settings, "sidecar_style",
                                                               self.style_picker.currentData()))
        toolbar.addWidget(self.style_picker)

    def _build_status_bar(self) -> None:
        bar = self.statusBar()
        self.model_label = QLabel("Model: loading…")
        self.counts_label = QLabel("")
        self.rate_label = QLabel("")
        self.progress = QProgressBar()
        self.progress.setMaximumWidth(240)
        self.progress.setTextVisible(True)
        self.progress.hide()
        self.errors_button = QPushButton("0 errors")
        self.errors_button.setFlat(True)
        self.errors_button.clicked.connect(self.show_errors)
        bar.addPermanentWidget(self.counts_label)
        bar.addPermanentWidget(self.progress)
        bar.addPermanentWidget(self.rate_label)
        bar.addPermanentWidget(self.errors_button)
        bar.addPermanentWidget(self.model_label)

    def _connect_worker(self) -> None:
        tagging, writer = self.client.tagging, self.client.writer
        # Bound methods only: PySide runs a lambda slot in the emitting (worker) thread.
        tagging.model_loading.connect(self._model_loading)
        tagging.model_ready.connect(self._model_ready)
        tagging.model_failed.connect(self._model_failed)
        tagging.download_progress.connect(self._download_progress)
        tagging.download_cancelled.connect(self._download_cancelled)
        tagging.progress.connect(self._progress)
        tagging.result.connect(self._result)
        tagging.failure.connect(self._failure)
        tagging.run_finished.connect(self._run_finished)
        tagging.rescored.connect(self._rescored)
        tagging.label_sets_failed.connect(self._label_sets_failed)
        writer.write_done.connect(self._write_done)
        writer.undo_done.connect(self._undo_done)
        writer.export_done.connect(self._export_done)
        writer.failed.connect(self._writer_failed)
        self._download_dialog: Optional[QProgressDialog] = None

    @Slot(str)
    def _model_loading(self, label: str) -> None:
        self.model_label.setText(f"Model: loading {label}…")

    @Slot(str)
    def _label_sets_failed(self, message: str) -> None:
        QMessageBox.warning(self, "Label sets", message)

    @Slot(str)
    def _writer_failed(self, message: str) -> None:
        self.write_action.setEnabled(bool(self.images.accepted_assignments()))
        QMessageBox.warning(self, "cliptagger", message)

    def _restore_layout(self) -> None:
        if self.settings.window_geometry:
            self.restoreGeometry(QByteArray(base64.b64decode(self.settings.window_geometry)))
        if self.settings.window_state:
            self.restoreState(QByteArray(base64.b64decode(self.settings.window_state)))
        if self.settings.splitter_state:
            self.splitter.restoreState(QByteArray(base64.b64decode(self.settings.splitter_state)))

    def _fill_recent_menu(self) -> None:
        self.recent_menu.clear()
        for folder in self.settings.recent_folders:
            self.recent_menu.addAction(folder, lambda f=folder: self.add_paths([Path(f)]))
        self.recent_menu.setEnabled(bool(self.settings.recent_folders))

    # ------------------------------------------------------------------ adding images

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
        files, _ = QFileDialog.getOpenFileNames(self, "Add photos", "",
                                                "Images (*.jpg *.jpeg *.png *.tif *.tiff *.webp *.bmp *.gif)")
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
        self.flush_counts()
        for path in images:
            self.thumbnails.request(path, THUMB_SIZE)
        message = f"Added {added} photo{'s' if added != 1 else ''}"
        if len(images) > added:
            message += f" ({len(images) - added} already in the list)"
        if problems:
            message += f"; {len(problems)} item(s) skipped: " + "; ".join(f"{p.name}: {r}" for p, r in problems[:3])
        self.statusBar().showMessage(message, 8000)
        if added and self.table.currentIndex().row() < 0:
            self.table.selectRow(0)
        self._update_actions()

    def clear_list(self) -> None:
        if self.running:
            return
        self.images.clear()
        self.panel.show_item(None)
        self._update_actions()

    # ------------------------------------------------------------------ model

    def model_request(self) -> Any:
        """The selected architecture, with the user's weights file when one was chosen."""
        from cliptagger.core.weights import request_for

        return request_for(self._model_key, checkpoint=self.settings.checkpoint or None)

    def load_model(self, allow_download: bool = False) -> None:
        self.model_ready = False
        self._update_actions()
        self.client.load_model(self.model_request(), self.settings.device, allow_download)

    def _model_picked(self, _index: int) -> None:
        key = self.model_picker.currentData()
        if key == CHECKPOINT_ITEM:
            path, _ = QFileDialog.getOpenFileName(self, "Choose model weights", "",
                                                  "Weights (*.safetensors *.bin *.pt *.pth);;All files (*)")
            if not path:
                self.model_picker.setCurrentIndex(max(0, self.model_picker.findData(self._model_key)))
                return
            self.settings.checkpoint = path
            key = self._model_key if self._model_key != DEMO_KEY else CATALOG[0].key
        else:
            self.settings.checkpoint = ""
        self._switch_model(key)

    def _switch_model(self, key: str) -> None:
        self._model_key = key
        self.settings.model = key
        self.model_picker.setCurrentIndex(max(0, self.model_picker.findData(key)))
        # The demo model only knows its toy world: it gets its own label sets, and the user's
        # saved sets come back (untouched) with any real model.
        wanted = demo_label_sets() if key == DEMO_KEY else load_user_label_sets()
        if [s.name for s in wanted] != [s.name for s in self.label_sets]:
            self.label_sets = wanted
            self.client.set_label_sets(self.label_sets)
        self._requeue_all()
        self.load_model()

    def _device_picked(self, _index: int) -> None:
        self.settings.device = self.device_picker.currentText()
        self._requeue_all()
        self.load_model()

    def _requeue_all(self) -> None:
        """Results from another model no longer apply: everything goes back to the queue."""
        for item in self.images.items:
            if item.status in (Status.TAGGED, Status.WRITTEN):
                item.status, item.result, item.decisions = Status.QUEUED, None, {}
                self.images.changed(item.path)
        self._current_changed()

    @Slot(str, str)
    def _model_ready(self, model_id: str, device: str) -> None:
        self.model_ready = True
        self.model_label.setText(f"Model: {model_id.split('@sha256')[0]} on {device.upper()}")
        if self._download_dialog is not None:
            self._download_dialog.close()
            self._download_dialog = None
        self._update_actions()
        if self._run_when_ready:
            self._run_when_ready = False
            self.run()

    @Slot(str, bool)
    def _model_failed(self, message: str, weights_missing: bool) -> None:
        if self._download_dialog is not None:
            self._download_dialog.close()
            self._download_dialog = None
        self.model_label.setText("Model: not loaded")
        self._run_when_ready = False
        if self.running:
            self.running = False
        self._update_actions()
        if not weights_missing:
            QMessageBox.critical(self, "Model", message)
            return
        dialog = WeightsDialog(self._model_key, message, self)
        if dialog.exec() != QDialog.Accepted:
            return
        if dialog.choice == WeightsDialog.DOWNLOAD:
            self._download_dialog = QProgressDialog(f"Downloading {self._model_key}…", "Cancel", 0, 100, self)
            self._download_dialog.setWindowTitle("Downloading model")
            self._download_dialog.setMinimumDuration(0)
            self._download_dialog.canceled.connect(self.cancel_download)
            self._download_dialog.show()
            self.load_model(allow_download=True)
        elif dialog.choice == WeightsDialog.CHECKPOINT:
            self.settings.checkpoint = dialog.checkpoint
            self.load_model()
        elif dialog.choice == WeightsDialog.DEMO:
            self._switch_model(DEMO_KEY)

    def cancel_download(self) -> None:
        """Runs on the UI thread and sets the worker's flag directly: the worker's own event
        loop is busy with the download, so a queued call would arrive too late."""
        self.client.tagging.cancel_download()

    @Slot(str)
    def _download_cancelled(self, message: str) -> None:
        if self._download_dialog is not None:
            self._download_dialog.close()
            self._download_dialog = None
        self.model_label.setText("Model: not loaded")
        self.statusBar().showMessage(f"{message} Pick a model to try again.", 10000)
        self._update_actions()

    @Slot(int, object)
    def _download_progress(self, done: int, total: Optional[int]) -> None:
        if self._download_dialog is None:
            return
        if total:
            self._download_dialog.setMaximum(100)
            self._download_dialog.setValue(min(100, int(100 * done / total)))
            self._download_dialog.setLabelText(f"Downloading {self._model_key}: {done / 1e6:.0f} of {total / 1e6:.0f} MB")
        else:
            self._download_dialog.setMaximum(0)
            self._download_dialog.setLabelText(f"Downloading {self._model_key}: {done / 1e6:.0f} MB")

    # ------------------------------------------------------------------ tagging

    def run(self) -> None:
        if self.running:
            return
        paths = self.images.pending_paths()
        if not paths:
            self.statusBar().showMessage("Nothing to tag: add photos first (Ctrl+O or drop a folder).", 5000)
            return
        if not self.model_ready:
            self._run_when_ready = True
            self.statusBar().showMessage("The model is still loading; tagging starts when it is ready.")
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

    @Slot(object)
    def _progress(self, progress: Any) -> None:
        self.progress.setMaximum(progress.total)
        self.progress.setValue(progress.done)
        self.rate_label.setText(f"{progress.images_per_s:.1f} img/s · ETA {format_duration(progress.eta_s)}")

    @Slot(object, object)
    def _result(self, result: Any, existing: list) -> None:
        self.images.set_result(result, existing)
        self._refresh_panel_if(result.path)

    @Slot(object)
    def _failure(self, failure: Any) -> None:
        self.images.set_failure(failure.path, failure.reason)
        self._refresh_panel_if(failure.path)

    @Slot(bool)
    def _run_finished(self, cancelled: bool) -> None:
        self.running = False
        self.flush_counts()
        self.progress.hide()
        self.rate_label.setText("")
        tagged, errors = len(self.images.tagged_items()), len(self.images.errors())
        verb = "Stopped" if cancelled else "Done"
        self.statusBar().showMessage(f"{verb}: {tagged} tagged, {errors} error(s). "
                                     "Review the proposals, then Write XMP (Ctrl+S).", 10000)
        self._update_actions()
        self.run_done.emit(cancelled)

    # ------------------------------------------------------------------ review

    def selected_items(self) -> list[ImageItem]:
        rows = sorted({index.row() for index in self.table.selectionModel().selectedRows()})
        return [self.images.items[row] for row in rows]

    def accept_selected(self) -> None:
        count = self.images.decide(self.selected_items(), True)
        self.flush_counts()
        self.statusBar().showMessage(f"Accepted {count} tag(s).", 4000)
        self._current_changed()

    def reject_selected(self) -> None:
        count = self.images.decide(self.selected_items(), False)
        self.flush_counts()
        self.statusBar().showMessage(f"Rejected {count} tag(s).", 4000)
        self._current_changed()

    def accept_all(self) -> None:
        count = self.images.decide(self.images.tagged_items(), True)
        self.flush_counts()
        self.statusBar().showMessage(f"Accepted {count} proposed tag(s) above their thresholds.", 4000)
        self._current_changed()

    def _decide_one(self, keyword: str, accepted: bool) -> None:
        item = self.panel.item
        if item is not None:
            self.images.decide([item], accepted, keyword)
            self.flush_counts()

    def write_xmp(self) -> None:
        assignments = self.images.accepted_assignments()
        if not assignments:
            self.statusBar().showMessage("No accepted tags to write: accept proposals first (Ctrl+Return).", 5000)
            return
        self.statusBar().showMessage(f"Writing sidecars for {len(assignments)} photo(s)…")
        self.write_action.setEnabled(False)
        self.client.write(assignments, self.settings.sidecar_style)

    @Slot(object)
    def _write_done(self, report: Any) -> None:
        for path in report.images_saved:  # the writer says which; no file system work here
            item = self.images.item_for(path)
            if item is not None:
                item.status = Status.WRITTEN
                item.existing = list(dict.fromkeys(item.existing + item.accepted_keywords))
                self.images.changed(path)
        self._last_written = set(report.images_saved)
        message = (f"Wrote {len(report.written)} sidecar(s), {len(report.unchanged)} already up to date"
                   + (f", {len(report.failed)} failed" if report.failed else "") + ". Undo: Ctrl+Z.")
        self.statusBar().showMessage(message, 10000)
        if report.failed or report.warnings:
            details = "\n".join([f"{p}: {r}" for p, r in report.failed] + [f"Note: {w}" for w in report.warnings])
            box = QMessageBox(QMessageBox.Warning if report.failed else QMessageBox.Information, "Write XMP",
                              message, parent=self)
            box.setDetailedText(details)
            box.open()
        self._current_changed()
        self.flush_counts()
        self.write_finished.emit(report)

    def undo_write(self) -> None:
        self.client.undo()

    @Slot(object)
    def _undo_done(self, report: Any) -> None:
        if report.batch is None:
            self.statusBar().showMessage("Nothing to undo.", 4000)
            self.undo_finished.emit(report)
            return
        for path in self._last_written:
            item = self.images.item_for(path)
            if item is not None and item.status is Status.WRITTEN:
                item.status = Status.TAGGED
                self.images.changed(path)
        self._last_written = set()
        message = f"Undone: {len(report.restored)} sidecar(s) restored, {len(report.removed)} removed"
        if report.skipped:
            message += f", {len(report.skipped)} left as they are (changed since)"
        self.statusBar().showMessage(message + ".", 10000)
        self._current_changed()
        self.undo_finished.emit(report)

    # ------------------------------------------------------------------ export

    def choose_export(self) -> None:
        start = self.settings.last_export_folder or str(Path.home())
        path, chosen = QFileDialog.getSaveFileName(
            self, "Export CSV", str(Path(start) / "cliptagger.csv"),
            "Scores for spreadsheets (*.csv);;Keywords for exiftool -csv= (*.csv)")
        if path:
            self.export_csv(Path(path), "exiftool" if "exiftool" in chosen else "scores")

    def export_csv(self, path: Path, form: str) -> None:
        self.settings.last_export_folder = str(path.parent)
        if form == "exiftool":
            rows: Any = {i.path: (i.accepted_keywords or i.proposed_keywords) for i in self.images.tagged_items()}
        else:
            rows = [i.result for i in self.images.tagged_items()]
        self.client.export_csv(str(path), form, rows, list(self.label_sets))

    @Slot(str, str)
    def _export_done(self, path: str, message: str) -> None:
        self.statusBar().showMessage(f"Exported {path}. {message}", 15000)
        self.export_finished.emit(path)

    # ------------------------------------------------------------------ label sets

    def edit_label_sets(self) -> None:
        editor = LabelSetEditor(self.label_sets, self)
        if editor.exec() == QDialog.Accepted:
            self.apply_label_sets(editor.label_sets())

    def apply_label_sets(self, label_sets: list[LabelSet]) -> None:
        self.label_sets = list(label_sets)
        if self._model_key != DEMO_KEY:  # the demo's toy sets never replace the user's own
            save_user_label_sets(self.label_sets)
        results = [i.result for i in self.images.tagged_items()]
        self.client.rescore(results, self.label_sets)

    @Slot(object)
    def _rescored(self, rescored: list) -> None:
        for path, scores in rescored:
            item = self.images.item_for(path)
            if item is not None and item.result is not None:
                item.result.scores = scores
                item.decisions = {k: v for k, v in item.decisions.items() if k in item.proposed_keywords}
                self.images.changed(path)
        if rescored:
            self.statusBar().showMessage(f"Re-scored {len(rescored)} photo(s) with the new label sets.", 5000)
        self._current_changed()
        self.rescore_finished.emit(len(rescored))

    # ------------------------------------------------------------------ panel, status

    def _current_changed(self, *_args) -> None:
        row = self.table.currentIndex().row()
        item = self.images.items[row] if 0 <= row < len(self.images.items) else None
        self.panel.show_item(item)
        if item is not None:
            pixmap = self.thumbnails.request(item.path, PREVIEW_SIZE)
            self.panel.set_preview(pixmap if pixmap is not None else item.thumbnail)
        self._update_actions()

    def _refresh_panel_if(self, path: Path) -> None:
        if self.panel.item is not None and self.panel.item.path == path:
            self._current_changed()

    @Slot(object, int, object)
    def _thumbnail_ready(self, path: Path, size: int, pixmap: Any) -> None:
        if size == THUMB_SIZE:
            self.images.set_thumbnail(path, pixmap)
        if self.panel.item is not None and self.panel.item.path == path:
            self.panel.set_preview(pixmap)

    def flush_counts(self) -> None:
        """Bring the status bar and actions up to date now (tests, and before dialogs)."""
        self._counts_timer.stop()
        self._update_counts()

    def _update_counts(self) -> None:
        items = self.images.items
        tagged = sum(1 for i in items if i.status in (Status.TAGGED, Status.WRITTEN))
        self.counts_label.setText(f"{len(items)} photos · {tagged} tagged")
        errors = len(self.images.errors())
        self.errors_button.setText(f"{errors} error{'s' if errors != 1 else ''}")
        self.errors_button.setStyleSheet("color: #c62828; font-weight: bold" if errors else "")
        self._update_actions()

    def _update_actions(self) -> None:
        has_pending = bool(self.images.pending_paths())
        has_results = bool(self.images.tagged_items())
        self.run_action.setEnabled(not self.running and has_pending)
        self.stop_action.setEnabled(self.running)
        self.model_picker.setEnabled(not self.running)
        self.device_picker.setEnabled(not self.running)
        self.accept_action.setEnabled(has_results)
        self.reject_action.setEnabled(has_results)
        self.accept_all_action.setEnabled(has_results)
        self.write_action.setEnabled(bool(self.images.accepted_assignments()))
        self.export_action.setEnabled(has_results)
        self.clear_action.setEnabled(not self.running and bool(self.images.items))

    def show_errors(self) -> None:
        errors = self.images.errors()
        dialog = QDialog(self)
        dialog.setWindowTitle(f"{len(errors)} photo(s) could not be tagged")
        text = QTextEdit()
        text.setReadOnly(True)
        text.setPlainText("\n".join(f"{i.path}\n    {i.error}" for i in errors) or "No errors.")
        layout = QVBoxLayout(dialog)
        layout.addWidget(text)
        dialog.resize(700, 400)
        self.errors_dialog = dialog
        dialog.show()

    def about(self) -> None:
        QMessageBox.about(self, "About cliptagger",
                          f"<b>cliptagger {__version__}</b><br>Zero-shot photo tagging with CLIP (open_clip).<br>"
                          "Tags go to XMP sidecars that Lightroom, darktable and digiKam read.")

    # ------------------------------------------------------------------ closing

    def closeEvent(self, event: QCloseEvent) -> None:
        if self.running:
            self.client.stop()
        self.settings.window_geometry = base64.b64encode(bytes(self.saveGeometry())).decode("ascii")
        self.settings.window_state = base64.b64encode(bytes(self.saveState())).decode("ascii")
        self.settings.splitter_state = base64.b64encode(bytes(self.splitter.saveState())).decode("ascii")
        try:
            save_settings(self.settings)
        except OSError:
            pass
        self.thumbnails.shutdown()
        self.scanner.shutdown()
        self.client.shutdown()
        event.accept()
