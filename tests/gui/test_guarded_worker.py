"""The guarded worker base: a failure on a worker thread becomes a message, and the worker
goes on serving requests (an exception leaving a slot there would be lost)."""

from __future__ import annotations

from PySide6.QtCore import QObject, QThread, Signal, Slot

from cliptagger.core.errors import SessionError
from cliptagger.gui.workers.guarded import GuardedWorker


class Probe(GuardedWorker):
    failed = Signal(str)
    done = Signal(object)

    @Slot(object)
    def work(self, action) -> None:
        result = self.guarded("Probing", action, self.failed.emit)
        if result is not None:
            self.done.emit(result)


class Client(QObject):
    request = Signal(object)


def boom():
    raise RuntimeError("boom")


def no_model():
    raise SessionError("no model is loaded yet")


def test_failures_on_the_worker_thread_become_messages_and_the_worker_goes_on(qtbot, capsys):
    thread = QThread()
    probe = Probe()
    probe.moveToThread(thread)
    client = Client()
    client.request.connect(probe.work)
    thread.start()
    messages, results = [], []
    probe.failed.connect(messages.append)
    probe.done.connect(results.append)
    try:
        for action in (boom, no_model, lambda: 42):
            client.request.emit(action)
        qtbot.waitUntil(lambda: len(messages) == 2 and results == [42], timeout=10_000)
    finally:
        thread.quit()
        thread.wait(5000)
    assert messages == ["Probing: unexpected error RuntimeError('boom')", "Probing: no model is loaded yet"]
    assert "RuntimeError: boom" in capsys.readouterr().err  # a bug leaves its traceback for the report


def test_every_worker_derives_from_the_guarded_base():
    from cliptagger.gui.workers.learning import LearnWorker
    from cliptagger.gui.workers.search import SearchWorker
    from cliptagger.gui.workers.tagging import TaggingWorker, WriterWorker

    for worker in (TaggingWorker, WriterWorker, SearchWorker, LearnWorker):
        assert issubclass(worker, GuardedWorker), worker
