"""Advisory locks between cliptagger processes (the app and the CLI, or two CLIs).

A sidecar is read, merged and replaced under a lock named after its real path, so two
cliptagger processes never interleave on one file. The lock files live in cliptagger's
own data folder (``<data dir>/locks``, see ``cliptagger.core.storage.paths``), never next to the
photos: 256 files, a sidecar maps to one by a hash of its resolved path (two sidecars
sharing a lock only wait a few milliseconds for each other).

Other programs do not know these locks; the compare-and-swap in ``fileio`` protects
against them. Locks are advisory: where the folder cannot be used, writing goes on
without one (the compare-and-swap still holds).
"""

from __future__ import annotations

import hashlib
import os
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Optional

from cliptagger.core.storage import paths

LOCK_BUCKETS = 256
DEFAULT_TIMEOUT_S = 30.0

_locks: dict[Path, tuple[object, threading.Lock]] = {}
_guard = threading.Lock()


class LockTimeout(Exception):
    """Another cliptagger process held the lock for too long."""


def locks_dir() -> Path:
    return paths.data_dir() / "locks"


def lock_file_for(path: Path) -> Path:
    real = os.path.realpath(path)
    digest = hashlib.sha256(os.fsencode(real)).digest()
    return locks_dir() / f"sidecar-{digest[0] % LOCK_BUCKETS:02x}.lock"


def _lock_object(lock_path: Path) -> Any:
    from filelock import FileLock

    with _guard:
        pair = _locks.get(lock_path)
        if pair is None:
            # The file lock is per process; the thread lock keeps two threads of one process apart.
            pair = (FileLock(str(lock_path), thread_local=False), threading.Lock())
            _locks[lock_path] = pair
        return pair


@contextmanager
def sidecar_lock(path: Path, timeout: Optional[float] = None) -> Iterator[bool]:
    """Hold the inter-process lock of ``path``; yields False when no lock could be used."""
    with _holding(lock_file_for(Path(path)), Path(path).name, timeout) as locked:
        yield locked


@contextmanager
def undo_lock(timeout: Optional[float] = None) -> Iterator[bool]:
    """One undo at a time, across processes: a second one waits, then takes the next batch."""
    with _holding(locks_dir() / "undo.lock", "the undo journal", timeout) as locked:
        yield locked


@contextmanager
def _holding(lock_path: Path, what: str, timeout: Optional[float]) -> Iterator[bool]:
    from filelock import Timeout

    try:
        lock_path.parent.mkdir(parents=True, exist_ok=True)
        lock, in_process = _lock_object(lock_path)
    except OSError:
        lock = in_process = None
    wait = DEFAULT_TIMEOUT_S if timeout is None else timeout
    if in_process is not None and not in_process.acquire(timeout=wait):
        raise LockTimeout(f"another cliptagger writer kept {what} locked")
    try:
        try:
            if lock is None:
                raise OSError("no lock folder")
            lock.acquire(timeout=wait)
        except Timeout:
            raise LockTimeout(f"another cliptagger process kept {what} locked") from None
        except OSError:
            yield False  # a read-only data folder: no lock, the compare-and-swap still protects
            return
        try:
            yield True
        finally:
            lock.release()
    finally:
        if in_process is not None:
            in_process.release()
