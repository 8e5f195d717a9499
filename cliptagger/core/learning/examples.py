"""The examples store: every accept and reject the user made, kept for learning.

SQLite in the data folder (``paths.data_dir()/examples.sqlite3``), one ``examples`` row
per (photo, model id, label set, keyword). A photo is identified as the embedding cache
knows it: absolute path and model id, with the file's size and mtime_ns when it was
decided; its embedding is kept once per photo and model (``photos``), so learning needs no
image work and survives a cleared cache or a moved file. Positive is an accept, negative a reject; un-deciding removes the row.

Undoing a sidecar write does not touch this store (a decision is not a write); the user
forgets a label's examples explicitly (``forget``). WAL mode and a busy timeout make it safe
for the app and the CLI at once; a store SQLite cannot read is set aside and started anew.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Optional

from cliptagger.core.storage import paths
from cliptagger.core.storage.sqlite_files import connect_checked, in_chunks, is_busy, is_damaged, start_afresh
from cliptagger.core.tagging.cache import file_stamp, path_key


def photo_key(path: "Path | str") -> bytes:
    """How a photo is named in the store: its absolute path, stored as the embedding cache
    stores names (the file system's bytes), so a name that is not valid UTF-8 is kept exactly."""
    return path_key(Path(path).absolute())


def size_and_mtime(path: str) -> tuple[Optional[int], Optional[int]]:
    """The part of the cache's file identity (size, mtime_ns, inode) this store keeps; (None,
    None) when the file is gone. Decisions are restored only while it still matches."""
    stamp = file_stamp(path)
    return (stamp[0], stamp[1]) if stamp is not None else (None, None)

SCHEMA_VERSION = 1
log = logging.getLogger(__name__)

#: Where an example came from: a review decision (app or CLI) or a keyword already in the library.
SOURCE_REVIEW = "review"
SOURCE_LIBRARY = "library"


def default_examples_path() -> Path:
    return paths.data_dir() / "examples.sqlite3"


@dataclass(frozen=True)
class Example:
    path: Path
    model_id: str
    label_set: str
    keyword: str
    positive: bool
    embedding: Any          # (dim,) float32 tensor
    source: str = SOURCE_REVIEW


class _NewerStore(sqlite3.DatabaseError):
    """The store's schema is newer than this cliptagger's (its args: that version)."""


class ExampleStore:
    def __init__(self, location: Optional[Path] = None) -> None:
        self.location = Path(location or default_examples_path())
        self.warnings: list[str] = []
        self._lock = threading.Lock()
        self._db: Optional[sqlite3.Connection] = self._open()

    def _open(self) -> Optional[sqlite3.Connection]:
        """The store, or None (unavailable: busy, newer, unwritable) with a warning that says
        so. Only a damaged store is set aside: busy is not damaged, newer is not damaged."""
        try:
            self.location.parent.mkdir(parents=True, exist_ok=True)
            return self._connect()
        except _NewerStore as err:
            return self._unavailable(f"was written by a newer cliptagger (schema {err}, this one reads "
                                     f"{SCHEMA_VERSION}); it is left as it is. Update cliptagger to use it")
        except sqlite3.DatabaseError as err:
            if is_busy(err):
                return self._unavailable("is in use by another program (still busy after 30 s); it is left as it "
                                         "is. Close the other cliptagger and start this one again")
            if not is_damaged(err):
                return self._unavailable(f"cannot be opened ({err}); it is left as it is")
            db, message, again = start_afresh(self.location, err, self._connect, "examples store",
                                              "a new one started")
            self._warn(message)
            return db if again is None else self._unavailable(f"cannot be started again ({again})")
        except OSError as err:
            return self._unavailable(f"cannot be opened ({err.strerror or err}); it is left as it is")

    def _unavailable(self, why: str) -> Optional[sqlite3.Connection]:
        """Say why the store is not used (returns None: no connection)."""
        self._warn(f"The examples store {self.location} {why}. Decisions made now are not kept for learning.")
        return None

    def _warn(self, message: str) -> None:
        log.info(message)  # the front end shows self.warnings; logging it too printed it twice
        self.warnings.append(message)

    @property
    def available(self) -> bool:
        return self._db is not None

    def _connect(self) -> sqlite3.Connection:
        db, version = connect_checked(self.location)
        try:
            if version > SCHEMA_VERSION:
                raise _NewerStore(str(version))
            if version not in (0, SCHEMA_VERSION):
                raise sqlite3.DatabaseError(f"unknown schema version {version}")
            db.execute(
                "CREATE TABLE IF NOT EXISTS photos ("
                " path BLOB NOT NULL, model_id TEXT NOT NULL, size INTEGER, mtime_ns INTEGER,"
                " dim INTEGER NOT NULL, vector BLOB NOT NULL, PRIMARY KEY (path, model_id))")
            db.execute(
                "CREATE TABLE IF NOT EXISTS examples ("
                " path BLOB NOT NULL, model_id TEXT NOT NULL, label_set TEXT NOT NULL, keyword TEXT NOT NULL,"
                " positive INTEGER NOT NULL, source TEXT NOT NULL, decided REAL NOT NULL,"
                " PRIMARY KEY (path, model_id, label_set, keyword))")
            db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        except sqlite3.DatabaseError:
            db.close()
            raise
        return db

    # ------------------------------------------------------------------ writing

    def record(self, items: Iterable[tuple[Path, Any, str, str, Optional[bool]]], model_id: str,
               source: str = SOURCE_REVIEW) -> int:
        """Record (path, embedding, label set, keyword, positive) decisions in one transaction;
        positive None removes the example (un-decided). Returns how many rows changed."""
        import numpy as np

        upserts, deletes, photos = [], [], {}
        now = time.time()
        for path, embedding, label_set, keyword, positive in items:
            name = photo_key(path)
            if positive is None:
                deletes.append((name, model_id, label_set, keyword))
                continue
            if name not in photos:
                stamp = size_and_mtime(os.fsdecode(name))
                vector = np.ascontiguousarray(embedding.detach().float().cpu().numpy(), dtype=np.float32)
                photos[name] = (name, model_id, stamp[0], stamp[1], int(vector.shape[0]), vector.tobytes())
            upserts.append((name, model_id, label_set, keyword, int(bool(positive)), source, now))
        if not upserts and not deletes or self._db is None:
            return 0
        with self._lock:
            db = self._db
            try:
                db.execute("BEGIN IMMEDIATE")
                try:
                    db.executemany("INSERT OR REPLACE INTO photos VALUES (?,?,?,?,?,?)", list(photos.values()))
                    db.executemany("INSERT OR REPLACE INTO examples VALUES (?,?,?,?,?,?,?)", upserts)
                    db.executemany("DELETE FROM examples WHERE path=? AND model_id=? AND label_set=? AND keyword=?",
                                   deletes)
                    db.execute("COMMIT")
                except BaseException:
                    if db.in_transaction:  # a failed COMMIT (disk full) may have rolled back already
                        db.execute("ROLLBACK")
                    raise
            except sqlite3.Error as err:  # full, read-only, busy: the decision stands, unlearned
                self._warn(f"Decisions could not be kept in the examples store {self.location} ({err}); "
                           "they count for this review but not for learning.")
                return 0
        return len(upserts) + len(deletes)

    def forget(self, label_set: str, keyword: Optional[str] = None, model_id: Optional[str] = None,
               source: Optional[str] = None) -> int:
        """Forget a label's examples (every label of the set when ``keyword`` is None), for one
        model or all. Returns how many went."""
        where, args = ["label_set = ?"], [label_set]
        for column, value in (("keyword", keyword), ("model_id", model_id), ("source", source)):
            if value is not None:
                where.append(f"{column} = ?")
                args.append(value)
        with self._lock:
            if self._db is None:
                return 0
            cursor = self._db.execute(f"DELETE FROM examples WHERE {' AND '.join(where)}", args)
            return cursor.rowcount

    # ------------------------------------------------------------------ reading

    def examples(self, model_id: str, label_set: Optional[str] = None) -> list[Example]:
        """Every example for ``model_id`` (of one set), oldest decision first."""
        import numpy as np
        import torch

        query = ("SELECT e.path, e.label_set, e.keyword, e.positive, e.source, p.dim, p.vector FROM examples e"
                 " JOIN photos p ON p.path = e.path AND p.model_id = e.model_id WHERE e.model_id = ?")
        args: list[Any] = [model_id]
        if label_set is not None:
            query += " AND e.label_set = ?"
            args.append(label_set)
        with self._lock:
            if self._db is None:
                return []
            rows = self._db.execute(query + " ORDER BY e.decided, e.path, e.keyword", args).fetchall()
        found: list[Example] = []
        vectors: dict[bytes, Any] = {}  # per photo: one tensor shared by its examples
        for path, set_name, keyword, positive, source, dim, blob in rows:
            if len(blob) != dim * 4:
                continue  # a damaged row is skipped, never fatal
            vector = vectors.get(path)
            if vector is None:
                vector = vectors[path] = torch.from_numpy(np.frombuffer(blob, dtype=np.float32).copy())
            found.append(Example(Path(os.fsdecode(path)), model_id, set_name, keyword, bool(positive), vector, source))
        return found

    def decisions_for(self, paths_: Iterable[Path], model_id: str,
                      source: str = SOURCE_REVIEW) -> dict[Path, list[tuple[str, str, bool]]]:
        """Review decisions recorded for these photos while their file was as it is now:
        path -> [(label set, keyword, positive)] (restores decisions after a restart)."""
        by_name = {photo_key(p): Path(p) for p in paths_}
        stamps = {name: size_and_mtime(os.fsdecode(name)) for name in by_name}  # one stat per photo, not per row
        found: dict[Path, list[tuple[str, str, bool]]] = {}
        with self._lock:
            if self._db is None:
                return found
            for chunk, marks in in_chunks(list(by_name)):
                rows = self._db.execute(
                    "SELECT e.path, e.label_set, e.keyword, e.positive, p.size, p.mtime_ns FROM examples e"
                    " JOIN photos p ON p.path = e.path AND p.model_id = e.model_id"
                    f" WHERE e.model_id = ? AND e.source = ? AND e.path IN ({marks})",
                    [model_id, source, *chunk]).fetchall()
                for name, set_name, keyword, positive, size, mtime_ns in rows:
                    if stamps[name] == (size, mtime_ns):
                        found.setdefault(by_name[name], []).append((set_name, keyword, bool(positive)))
        return found

    def counts(self, model_id: str) -> dict[tuple[str, str], tuple[int, int]]:
        """(label set, keyword) -> (positives, negatives)."""
        with self._lock:
            if self._db is None:
                return {}
            rows = self._db.execute(
                "SELECT label_set, keyword, SUM(positive), SUM(1 - positive) FROM examples WHERE model_id = ?"
                " GROUP BY label_set, keyword", (model_id,)).fetchall()
        return {(s, k): (int(p), int(n)) for s, k, p, n in rows}

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
