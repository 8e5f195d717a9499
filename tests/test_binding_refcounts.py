"""The Qt binding must not leak or drop references to Python singletons.

PySide6 6.12.0 drops one reference to ``True`` on every ``Signal.emit()``; after ~13,000
thumbnails the count reaches zero and CPython aborts ("bool_dealloc: deallocating True or
False"). pyproject.toml excludes that release; this test makes a future upgrade that
brings back such a bug fail CI instead of the user's app.

Every ``Signal(...)`` signature declared anywhere in ``cliptagger/`` is found by parsing
the source (so a new signal is covered without editing this file), rebuilt on a test
object and emitted 100,000 times, connected directly and across threads (queued, as the
workers deliver to the UI thread), with ``True``, ``False`` and ``None`` in the payloads.
"""

from __future__ import annotations

import ast
import sys
import threading
import time
from pathlib import Path

import pytest
from PySide6.QtCore import QCoreApplication, QObject, Qt, QThread, Signal
from PySide6.QtGui import QImage, QPixmap

PACKAGE = Path(__file__).resolve().parents[1] / "cliptagger"
EMITS = 100_000
WARM_UP = 10
CHUNKS = (10, 90, 900, 9_000, 90_000)
assert sum(CHUNKS) == EMITS
# each queued emit allocates an event, so fewer; a binding bug shows within the first chunk
QUEUED_CHUNKS = (100, 900, 9_000, 10_000)
# Thread start-up and the semaphores move the counts by a handful; a binding bug that
# touches a singleton once per emit moves them by at least the first chunk (100).
HARNESS_NOISE = 32
TYPES = {"int": int, "float": float, "bool": bool, "str": str, "object": object,
         "list": list, "dict": dict, "QImage": QImage, "QPixmap": QPixmap}


def declared_signatures() -> set[tuple[str, ...]]:
    """The argument types of every ``Signal(...)`` the app declares, as type names."""
    found: set[tuple[str, ...]] = set()
    for source in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                    and node.func.id == "Signal"):
                names = tuple(arg.id if isinstance(arg, ast.Name) else ast.unparse(arg)
                              for arg in node.args)
                unknown = [name for name in names if name not in TYPES]
                assert not unknown, f"{source.name}: add {unknown} to TYPES in this test"
                found.add(names)
    return found


def sample(type_name: str, flag: bool):
    """A payload of that type that carries the singletons where the type allows it."""
    return {
        "int": 1, "float": 0.5, "bool": flag, "str": "x",
        "object": (True, False, None)[int(flag)], "list": [True, False, None],
        "dict": {"flag": flag, "none": None}, "QImage": QImage(), "QPixmap": QPixmap(),
    }[type_name]


def emitter_for(signature: tuple[str, ...]) -> type[QObject]:
    return type("Emitter", (QObject,), {"sig": Signal(*(TYPES[name] for name in signature))})


class Receiver(QObject):
    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def slot(self, *args) -> None:
        self.calls += 1


def singleton_counts() -> tuple[int, int, int]:
    return sys.getrefcount(True), sys.getrefcount(False), sys.getrefcount(None)


SIGNATURES = sorted(declared_signatures())


def test_the_app_declares_the_signatures_we_expect_to_cover():
    # guards the parser: an empty or tiny set would make the tests below vacuous
    assert len(SIGNATURES) >= 10
    assert () in SIGNATURES and ("int",) in SIGNATURES and ("object",) in SIGNATURES
    assert ("str",) in SIGNATURES and ("bool",) in SIGNATURES


@pytest.mark.parametrize("signature", SIGNATURES, ids=lambda s: ",".join(s) or "none")
def test_direct_emits_keep_singleton_refcounts(qapp, signature):
    sender, receiver = emitter_for(signature)(), Receiver()
    sender.sig.connect(receiver.slot)
    payloads = [tuple(sample(name, flag) for name in signature) for flag in (True, False)]
    for i in range(WARM_UP):     # the binding's first emits cache what they need
        sender.sig.emit(*payloads[i & 1])
    after = before = singleton_counts()
    # in growing chunks, checked after each: a binding that drops a reference per emit
    # fails after a few emits here, instead of aborting the interpreter (True's count
    # reaching zero) somewhere in the tests that follow
    for chunk in CHUNKS:
        for i in range(chunk):
            sender.sig.emit(*payloads[i & 1])
        after = singleton_counts()
        if after != before:   # not `assert`: pytest's rewrite parks None in temporaries
            pytest.fail(f"Signal{signature}: refcounts True/False/None {before} -> {after}")
    assert receiver.calls == WARM_UP + EMITS


@pytest.mark.parametrize("signature", SIGNATURES, ids=lambda s: ",".join(s) or "none")
def test_queued_emits_from_a_thread_keep_singleton_refcounts(qapp, signature):
    sender, receiver = emitter_for(signature)(), Receiver()
    sender.sig.connect(receiver.slot, Qt.ConnectionType.QueuedConnection)
    payloads = [tuple(sample(name, flag) for name in signature) for flag in (True, False)]
    chunks = (WARM_UP, *QUEUED_CHUNKS)
    go, emitted = threading.Semaphore(0), threading.Semaphore(0)
    stopping: list[bool] = []

    class Emitting(QThread):
        def run(self) -> None:
            for chunk in chunks:
                go.acquire()
                if stopping:
                    return
                for i in range(chunk):
                    sender.sig.emit(*payloads[i & 1])
                emitted.release()

    thread = Emitting()
    thread.start()
    delivered = 0
    before = None
    for chunk in chunks:
        go.release()
        if not emitted.acquire(timeout=60):
            pytest.fail(f"Signal{signature}: the emitting thread stopped")
        delivered += chunk
        deadline = time.monotonic() + 60
        while receiver.calls < delivered and time.monotonic() < deadline:
            QCoreApplication.processEvents()
        if receiver.calls < delivered:
            pytest.fail(f"Signal{signature} queued: {delivered - receiver.calls} emits never "
                        f"arrived")
        after = singleton_counts()
        before = before or after          # measured after the warm-up chunk
        drift = [a - b for a, b in zip(after, before)]
        if any(abs(d) >= HARNESS_NOISE for d in drift):
            stopping.append(True)
            go.release()
            thread.wait(120_000)
            pytest.fail(f"Signal{signature} queued: refcounts True/False/None "
                        f"{before} -> {after}")
    assert thread.wait(120_000)
    assert receiver.calls == WARM_UP + sum(QUEUED_CHUNKS)
