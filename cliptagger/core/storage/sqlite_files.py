"""What the two SQLite stores (embedding cache, examples) do alike: open in WAL mode with an
integrity check, and set a damaged database aside (with its -wal and -shm) instead of
deleting it."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any, Callable, Iterator, Optional, Sequence

from cliptagger.core.storage import fileio


def connect_checked(location: Path) -> tuple[sqlite3.Connection, int]:
    """(connection, schema version) of a database that passed ``quick_check``; autocommit,
    WAL, usable from any thread (callers hold their own lock). Raises ``sqlite3.DatabaseError``."""
    db = sqlite3.connect(location, timeout=30, check_same_thread=False, isolation_level=None)
    try:
        db.execute("PRAGMA busy_timeout = 30000")
        db.execute("PRAGMA journal_mode = WAL")
        db.execute("PRAGMA synchronous = NORMAL")
        if db.execute("PRAGMA quick_check").fetchone()[0] != "ok":
            raise sqlite3.DatabaseError("integrity check failed")
        return db, int(db.execute("PRAGMA user_version").fetchone()[0])
    except sqlite3.DatabaseError:
        db.close()
        raise


#: SQLite's own words for a file that is not (or no longer) a database: the only case to set aside.
DAMAGED_CODES = frozenset({"SQLITE_NOTADB", "SQLITE_CORRUPT"})
BUSY_CODES = frozenset({"SQLITE_BUSY", "SQLITE_LOCKED"})


def is_damaged(err: BaseException) -> bool:
    """A damaged database (set it aside), not a busy, locked, read-only or full one."""
    return getattr(err, "sqlite_errorname", "") in DAMAGED_CODES or "integrity check failed" in str(err)


def is_busy(err: BaseException) -> bool:
    """Another connection held the database past the busy timeout (wait, report; never set aside)."""
    return getattr(err, "sqlite_errorname", "") in BUSY_CODES or "database is locked" in str(err)


def set_aside(location: Path) -> Path:
    """Move a damaged database and its WAL files to ``NAME.corrupt-<time>``; returns that name."""
    return fileio.set_aside(location, companions=("-wal", "-shm"))


def start_afresh(location: Path, err: Exception, connect: Callable[[], sqlite3.Connection],
                 store: str, afterwards: str) -> tuple[Optional[sqlite3.Connection], str, Optional[sqlite3.Error]]:
    """Set a damaged store aside and open a new one in its place: (connection, the message that
    says so, the error if the new one could not be opened either)."""
    aside = set_aside(location)
    message = f"The {store} {location} could not be read ({err}); it was set aside as {aside.name} and {afterwards}."
    try:
        return connect(), message, None
    except sqlite3.Error as again:
        return None, message, again


#: Keys per ``IN (...)`` query: below SQLite's default limit of host parameters on old builds (999).
IN_CHUNK = 500


def in_chunks(keys: Sequence[Any], size: int = IN_CHUNK) -> Iterator[tuple[list[Any], str]]:
    """``keys`` in chunks for ``WHERE column IN ({marks})`` queries: (chunk, "?,?,...")."""
    for start in range(0, len(keys), size):
        chunk = list(keys[start:start + size])
        yield chunk, ",".join("?" * len(chunk))
