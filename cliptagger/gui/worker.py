"""QThread workers: the only place the GUI touches models, decoding and file writes.

``TaggingWorker`` lives on its own thread and adapts the core ``TaggingEngine``: loading the
model, tagging, re-scoring. ``WriterWorker`` lives on another and does sidecar writes, undo
and CSV exports, so a slow disk never blocks the window. Both report through signals; the
UI thread calls them only through queued signals (``WorkerClient``), and ``stop`` sets a
thread-safe flag that the engine checks between batches.
"""

from __future__ import annotations

import threading
import traceback
from pathlib import Path
from typing import Any, Optional

from PySide6.QtCore import QObject, QThread, Signal, Slot


class TaggingWorker(QObject):
    model_loading = Signal(str)
    download_progress = Signal(int, object)       # bytes done, bytes total (or None)
    model_ready = Signal(str, str)                # model id, device
    model_failed = Signal(str, bool)              # message, True when the weights are missing
    download_cancelled = Signal(str)
    progress = Signal(object)                     # core.engine.Progress
    result = Signal(object, object)               # ImageResult, existing keywords (list[str])
    failure = Signal(object)                      # ImageFailure
    run_finished = Signal(bool)                   # True when stopped by the user
    rescored = Signal(object)                     # list[(path, list[SetScores])]
    label_sets_failed = Signal(str)

    def __init__(self) -> None:
        super().__init__()
        self._cancel = threading.Event()
        self._cancel_download = threading.Event()
        self.model: Any = None
        self.engine: Any = None
        self.label_sets: list = []
        self.batch_size: Optional[int] = None  # the engine's default for the device
        self.cache: Any = None

    # Called from the UI thread directly: they only set flags.
    def stop(self) -> None:
        self._cancel.set()

    def cancel_download(self) -> None:
        self._cancel_download.set()

    @Slot(object, str, bool)
    def load_model(self, request: Any, device: str, allow_download: bool) -> None:
        from cliptagger.core.errors import CliptaggerError, WeightsUnavailableError
        from cliptagger.core.model import load_model
        from cliptagger.core.weights import DownloadCancelled

        from cliptagger.core.threads import lower_current_thread_priority

        # Before torch creates its OpenMP team from this thread, so the team inherits it.
        lower_current_thread_priority()
        self.model_loading.emit(request.label)
        self._cancel_download.clear()
        try:
            model = load_model(request, device=device, allow_download=allow_download,
                               download_progress=lambda done, total: self.download_progress.emit(done, total),
                               cancel_download=self._cancel_download)
        except DownloadCancelled as err:
            self.download_cancelled.emit(str(err))
            return
        except WeightsUnavailableError as err:
            self.model_failed.emit(str(err), True)
            return
        except CliptaggerError as err:
            self.model_failed.emit(str(err), False)
            return
        except Exception as err:  # never let a worker die silently
            self.model_failed.emit(f"Unexpected error while loading the model: {err!r}", False)
            traceback.print_exc()
            return
        self.model = model
        self._rebuild_engine()
        self.model_ready.emit(model.model_id, model.device)

    def _rebuild_engine(self) -> None:
        from cliptagger.core.engine import TaggingEngine

        from cliptagger.core.cache import EmbeddingCache

        if self.model is None or not self.label_sets:
            return
        if self.cache is None:
            self.cache = EmbeddingCache()
        self.engine = TaggingEngine(self.model, self.label_sets, batch_size=self.batch_size, cache=self.cache,
                                    background_priority=True)

    @Slot(object)
    def set_label_sets(self, label_sets: list) -> None:
        from cliptagger.core.errors import CliptaggerError

        self.label_sets = list(label_sets)
        if self.engine is not None:
            try:
                self.engine.set_label_sets(self.label_sets)
            except CliptaggerError as err:
                self.label_sets_failed.emit(str(err))
        else:
            self._rebuild_engine()

    @Slot(object)
    def run(self, paths: list) -> None:
        from cliptagger.core.engine import ImageFailure
        from cliptagger.core.sidecars import FolderListing, existing_keywords

        self._cancel.clear()
        listing = FolderListing()  # each folder listed once per run, not once per photo
        if self.engine is None:
            self.run_finished.emit(False)
            return
        try:
            for outcome in self.engine.run(paths, on_progress=self.progress.emit, cancel=self._cancel):
                if isinstance(outcome, ImageFailure):
                    self.failure.emit(outcome)
                else:
                    keywords, _problems = existing_keywords(outcome.path, listing)
                    self.result.emit(outcome, keywords)
        except Exception as err:
            traceback.print_exc()
            self.model_failed.emit(f"Tagging stopped by an unexpected error: {err!r}", False)
        self.run_finished.emit(self._cancel.is_set())

    @Slot(object, object)
    def rescore(self, results: list, label_sets: Optional[list] = None) -> None:
        """New scores for already-encoded images: no decoding, no image encoding."""
        if label_sets is not None:
            self.set_label_sets(label_sets)
        if self.engine is None or not results:
            self.rescored.emit([])
            return
        self.rescored.emit([(r.path, s) for r, s in zip(results, self.engine.score_results(results))])


class WriterWorker(QObject):
    write_done = Signal(object)        # core.sidecars.WriteReport
    undo_done = Signal(object)         # core.journal.UndoReport
    export_done = Signal(str, str)     # path, message
    failed = Signal(str)

    @Slot(object, str)
    def write(self, assignments: dict, style: str) -> None:
        from cliptagger.core.sidecars import SidecarStyle, write_sidecars

        try:
            report = write_sidecars(assignments, SidecarStyle(style), description="cliptagger app")
        except Exception as err:
            self.failed.emit(f"Writing sidecars failed: {err}")
            return
        self.write_done.emit(report)

    @Slot()
    def undo(self) -> None:
        from cliptagger.core.journal import undo_last_batch

        try:
            self.undo_done.emit(undo_last_batch())
        except Exception as err:
            self.failed.emit(f"Undo failed: {err}")

    @Slot(str, str, object, object)
    def export_csv(self, path: str, form: str, rows: Any, label_sets: Any) -> None:
        from cliptagger.core.export import write_exiftool_csv, write_scores_csv

        try:
            if form == "exiftool":
                command = write_exiftool_csv(Path(path), rows)
                self.export_done.emit(path, f"Apply it with: {command}")
            else:
                write_scores_csv(Path(path), rows, label_sets)
                self.export_done.emit(path, "")
        except Exception as err:
            self.failed.emit(f"Export to {path} failed: {err}")


class WorkerClient(QObject):
    """Owns the worker threads; the UI calls these methods, never the workers' slots directly."""

    _load = Signal(object, str, bool)
    _labels = Signal(object)
    _run = Signal(object)
    _rescore = Signal(object, object)
    _write = Signal(object, str)
    _undo = Signal()
    _export = Signal(str, str, object, object)

    def __init__(self, parent: Optional[QObject] = None) -> None:
        super().__init__(parent)
        self.tagging = TaggingWorker()
        self.writer = WriterWorker()
        self.tagging_thread = QThread(self)
        self.tagging_thread.setObjectName("cliptagger-tagging")
        self.writer_thread = QThread(self)
        self.writer_thread.setObjectName("cliptagger-writer")
        self.tagging.moveToThread(self.tagging_thread)
        self.writer.moveToThread(self.writer_thread)
        self._load.connect(self.tagging.load_model)
        self._labels.connect(self.tagging.set_label_sets)
        self._run.connect(self.tagging.run)
        self._rescore.connect(self.tagging.rescore)
        self._write.connect(self.writer.write)
        self._undo.connect(self.writer.undo)
        self._export.connect(self.writer.export_csv)
        self.tagging_thread.start()
        self.writer_thread.start()

    def load_model(self, request: Any, device: str, allow_download: bool) -> None:
        self._load.emit(request, device, allow_download)

    def set_label_sets(self, label_sets: list) -> None:
        self._labels.emit(list(label_sets))

    def run(self, paths: list) -> None:
        self._run.emit(list(paths))

    def stop(self) -> None:
        self.tagging.stop()

    def rescore(self, results: list, label_sets: Optional[list] = None) -> None:
        self._rescore.emit(list(results), label_sets)

    def write(self, assignments: dict, style: str) -> None:
        self._write.emit(dict(assignments), style)

    def undo(self) -> None:
        self._undo.emit()

    def export_csv(self, path: str, form: str, rows: Any, label_sets: Any) -> None:
        self._export.emit(path, form, rows, label_sets)

    def shutdown(self) -> None:
        self.tagging.stop()
        for thread in (self.tagging_thread, self.writer_thread):
            thread.quit()
            thread.wait(10_000)
