"""QThread workers: they move the session's heavy verbs off the UI thread.

``TaggingWorker`` (its own thread) loads models and runs ``Session.tag`` / ``rescore``;
``WriterWorker`` (another thread) runs ``Session.write`` / ``undo`` / ``export``, so a slow
disk never blocks tagging or the window. They hold no state of their own beyond the flags
that stop work: results and decisions live in the shared core ``Session``. The UI thread
reaches them only through ``WorkerClient``'s queued signals; ``stop`` and
``cancel_download`` set thread-safe flags that the core checks.
"""

from __future__ import annotations

import gc
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Optional

from PySide6.QtCore import QObject, QThread, Signal, SignalInstance, Slot

from cliptagger.core.metadata.export import ExportFormat
from cliptagger.core.session.decisions import Decision
from cliptagger.gui.workers.guarded import GuardedWorker

if TYPE_CHECKING:
    from cliptagger.core.model.clip import ClipModel
    from cliptagger.core.model.weights import ModelRequest
    from cliptagger.core.session.facade import Session
    from cliptagger.core.session.target_write import TargetWriteRequest
    from cliptagger.core.tagging.labels import LabelSet


class TaggingWorker(GuardedWorker):
    model_loading = Signal(str)
    download_progress = Signal(int, object)       # bytes done, bytes total (or None)
    #: model id, device, precision (how it was chosen), whether earlier results were kept, devices here
    model_ready = Signal(str, str, str, bool, list)
    #: the WeightsUnavailableError (its fields say why) or a CliptaggerError's message
    model_failed = Signal(object)
    download_cancelled = Signal(str)
    progress = Signal(object)                     # core.engine.Progress
    result = Signal(object)                       # path of a photo whose result is now in the session
    failure = Signal(object, str)                 # path, reason
    run_finished = Signal(bool)                   # True when stopped by the user
    #: a run that ended on an unexpected error: the model is still loaded
    tagging_failed = Signal(str)
    rescored = Signal(int)                        # how many photos got new scores
    label_sets_failed = Signal(str)
    #: something the user should know that did not stop the work (e.g. the cache turned off)
    warned = Signal(str)

    def __init__(self, session: "Session", cancel: threading.Event, cancel_download: threading.Event) -> None:
        super().__init__()
        self.session = session
        self._cancel = cancel
        self._cancel_download = cancel_download

    @Slot(object, str, str, bool)
    def load_model(self, request: "ModelRequest", device: str, precision: str, allow_download: bool) -> None:
        from cliptagger.core.errors import WeightsProblem, WeightsUnavailableError
        from cliptagger.core.model.clip import load_model
        from cliptagger.core.tagging.threads import lower_current_thread_priority

        # Before torch creates its OpenMP team from this thread, so the team inherits it.
        lower_current_thread_priority()
        self.model_loading.emit(request.label)
        self._cancel_download.clear()

        def load() -> "Optional[tuple[ClipModel, bool]]":
            # No cyclic GC while loading: a full collection in the middle of it (the tokenizer's
            # vocabulary, scanning everything torch had just created) held Python's lock 0.3 s
            # and froze the window (benchmarks/startup.py). The model, torch and Qt are loaded
            # for good: frozen out of later full passes, which otherwise scan them all (0.2 s
            # at 2,000 photos).
            gc.disable()
            try:
                model = load_model(request, device=device, precision=precision, allow_download=allow_download,
                                   download_progress=lambda done, total: self.download_progress.emit(done, total),
                                   cancel_download=self._cancel_download)
            except WeightsUnavailableError as err:  # its fields let the dialog say why, in its words
                if err.problem is WeightsProblem.CANCELLED:
                    self.download_cancelled.emit(str(err))
                else:
                    self.model_failed.emit(err)
                return None
            finally:
                gc.freeze()
                gc.enable()
            return model, self.session.use_model(model)

        loaded = self.guarded("The model could not be loaded", load, self.model_failed.emit)
        if loaded is None:
            return
        model, kept = loaded
        from cliptagger.core.model.device import available_devices

        self.model_ready.emit(model.model_id, model.device, model.precision_info, kept, available_devices())

    @Slot(object)
    def run(self, paths: list) -> None:
        from cliptagger.core.tagging.engine import ImageFailure

        self._cancel.clear()

        def tag() -> None:
            for outcome in self.session.tag(paths, progress=self.progress.emit, cancel=self._cancel):
                if isinstance(outcome, ImageFailure):
                    self.failure.emit(outcome.path, outcome.reason)
                else:
                    self.result.emit(outcome.path)

        self.guarded("Tagging stopped", tag, self.tagging_failed.emit)
        # The results stay (freed by reference counting when dropped): out of the cyclic GC's
        # full passes, which otherwise scan every one of them and stopped the window 24-70 ms
        # at a time with 20,000 photos (benchmarks/library_scale.py with gc.callbacks).
        gc.freeze()
        for warning in self.session.take_warnings():
            self.warned.emit(warning)
        self.run_finished.emit(self._cancel.is_set())

    @Slot(object)
    def rescore(self, label_sets: "list[LabelSet]") -> None:
        """New scores for already-encoded photos: no decoding, no image encoding."""
        results = self.guarded("The label sets could not be applied", lambda: self.session.rescore(label_sets),
                               self.label_sets_failed.emit)
        if results is not None:
            self.rescored.emit(len(results))


class WriterWorker(GuardedWorker):
    write_done = Signal(object)        # core.session.target_write.TargetWriteReport
    undo_done = Signal(object)         # core.metadata.undo.UndoReport
    export_done = Signal(object)       # core.session.ExportReport
    keywords_read = Signal(list)       # paths whose existing keywords are now known
    decided = Signal(object)           # BulkDecision
    decide_progress = Signal(int, int)  # photos decided, of how many
    failed = Signal(str)

    def __init__(self, session: "Session", cancel_decisions: threading.Event) -> None:
        super().__init__()
        self.session = session
        self._cancel_decisions = cancel_decisions

    def _guarded(self, what: str, action: Callable[[], object], done: SignalInstance) -> None:
        result = self.guarded(what, action, self.failed.emit)
        if result is not None:
            done.emit(result)

    @Slot(object)
    def write(self, request: "TargetWriteRequest") -> None:
        """Into the photos and/or sidecars, where the chosen photo app reads keywords."""
        from cliptagger.core.session.target_write import write_for_target

        self._guarded("Writing XMP failed", lambda: write_for_target(self.session, request), self.write_done)

    @Slot(bool)
    def undo(self, force: bool) -> None:
        self._guarded("Undo failed", lambda: self.session.undo(force=force), self.undo_done)

    @Slot(str, str)
    def export(self, path: str, form: str) -> None:
        self._guarded(f"Export to {path} failed", lambda: self.session.export(Path(path), ExportFormat(form)),
                      self.export_done)

    @Slot(object, object)
    def decide(self, paths: list, decision: "Optional[Decision]") -> None:
        """Accept or reject every proposal of many photos (a selection of thousands)."""
        self._guarded("Deciding failed",
                      lambda: self._in_chunks(paths, lambda chunk: self.session.decide(chunk, decision), decision,
                                              every_photo=False), self.decided)

    @Slot()
    def accept_all(self) -> None:
        """Accept every pending proposal of every photo; rejections stay."""
        self._guarded("Accepting failed",
                      lambda: self._in_chunks(self.session.paths(), self.session.accept_above_threshold,
                                              Decision.ACCEPTED, every_photo=True), self.decided)

    def _in_chunks(self, paths: list, decide: Callable[[list], int], decision: "Optional[Decision]",
                   every_photo: bool) -> "BulkDecision":
        """``decide`` over ``paths`` a chunk at a time, with progress; a cancel stops between
        chunks (what was decided stays decided, and is reported)."""
        changed, done = 0, 0
        while done < len(paths) and not self._cancel_decisions.is_set():
            chunk = paths[done:done + DECISION_CHUNK]
            changed += decide(chunk)
            done += len(chunk)
            self.decide_progress.emit(done, len(paths))
        return BulkDecision(paths[:done], changed, decision, total=len(paths), every_photo=every_photo)

    @Slot(object)
    def read_keywords(self, paths: list) -> None:
        """Existing keywords of newly added photos, in chunks so the list fills in as it goes."""
        for start in range(0, len(paths), 200):
            chunk = paths[start:start + 200]
            self.session.refresh_existing(chunk)
            self.keywords_read.emit(chunk)


#: Photos decided between two progress reports (and cancel checks) of a bulk decision.
DECISION_CHUNK = 500


@dataclass(frozen=True)
class BulkDecision:
    paths: list[Path]  # the photos decided (fewer than ``total`` when cancelled)
    changed: int       # tags whose decision changed
    decision: "Optional[Decision]"
    total: int         # the photos asked for
    every_photo: bool  # Accept All (over the whole list)

    @property
    def cancelled(self) -> bool:
        return len(self.paths) < self.total


class WorkerClient(QObject):
    """Owns the worker threads; the UI calls these methods, never the workers' slots directly."""

    _load = Signal(object, str, str, bool)
    _run = Signal(object)
    _rescore = Signal(object)
    _write = Signal(object)
    _undo = Signal(bool)
    _export = Signal(str, str)
    _read_keywords = Signal(object)
    _decide = Signal(object, object)
    _accept_all = Signal()

    def __init__(self, session: "Session", parent: Optional[QObject] = None) -> None:
        super().__init__(parent)
        self.session = session
        self._cancel = threading.Event()
        self._cancel_download = threading.Event()
        self._cancel_decisions = threading.Event()
        self.tagging = TaggingWorker(session, self._cancel, self._cancel_download)
        self.writer = WriterWorker(session, self._cancel_decisions)
        self.tagging_thread = QThread(self)
        self.tagging_thread.setObjectName("cliptagger-tagging")
        self.writer_thread = QThread(self)
        self.writer_thread.setObjectName("cliptagger-writer")
        self.tagging.moveToThread(self.tagging_thread)
        self.writer.moveToThread(self.writer_thread)
        self._load.connect(self.tagging.load_model)
        self._run.connect(self.tagging.run)
        self._rescore.connect(self.tagging.rescore)
        self._write.connect(self.writer.write)
        self._undo.connect(self.writer.undo)
        self._export.connect(self.writer.export)
        self._read_keywords.connect(self.writer.read_keywords)
        self._decide.connect(self.writer.decide)
        self._accept_all.connect(self.writer.accept_all)
        self.tagging_thread.start()
        self.writer_thread.start()

    def load_model(self, request: "ModelRequest", device: str, precision: str, allow_download: bool) -> None:
        self._load.emit(request, device, precision, allow_download)

    def run(self, paths: list) -> None:
        self._cancel.clear()  # a Stop from an earlier run must not stop this one
        self._run.emit(list(paths))

    def stop(self) -> None:
        self._cancel.set()

    def cancel_download(self) -> None:
        """Takes effect at once: the worker's loop is busy downloading, a queued call would wait."""
        self._cancel_download.set()

    def rescore(self, label_sets: list) -> None:
        self._rescore.emit(list(label_sets))

    def write(self, request: "TargetWriteRequest") -> None:
        self._write.emit(request)

    def undo(self, force: bool = False) -> None:
        """``force``: from sidecars changed since, take out only cliptagger's own keywords."""
        self._undo.emit(force)

    def export(self, path: Path, form: ExportFormat) -> None:
        self._export.emit(str(path), ExportFormat(form).value)

    def decide(self, paths: list, decision: "Optional[Decision]") -> None:
        """On the writer thread: thousands of photos cost the UI thread nothing (``writer.decided``,
        with ``writer.decide_progress`` meanwhile)."""
        self._cancel_decisions.clear()  # here, not on the worker: a cancel may come before it starts
        self._decide.emit(list(paths), decision)

    def accept_all(self) -> None:
        self._cancel_decisions.clear()
        self._accept_all.emit()

    def cancel_decisions(self) -> None:
        """Stop a bulk decision after its current chunk (at once: the writer's loop is busy)."""
        self._cancel_decisions.set()

    def read_keywords(self, paths: list) -> None:
        self._read_keywords.emit(list(paths))

    def shutdown(self) -> None:
        self.stop()
        self.cancel_download()
        for thread in (self.tagging_thread, self.writer_thread):
            thread.quit()
            # No time limit: a QThread destroyed while running aborts the whole process. The
            # work in flight ends soon: tagging stops after its batch, a write after its file,
            # re-learning after its fit.
            thread.wait()
