"""The embedding cache: an image is decoded and encoded once per model.

SQLite in the cache folder, keyed by (path, model id) and valid while the file's size,
mtime_ns and inode are unchanged, with a schema version. Paths are stored as the bytes
the file system uses (``os.fsencode``), so any file name round-trips. WAL mode and a busy
timeout make it safe for two processes (the app and the CLI) at once.

The file identity stored with an embedding is the one taken *before* the photo was
decoded (``file_stamp`` in the engine): a photo replaced while the run decoded it is never
cached under the new file's identity with the old picture's embedding.

The cache only ever costs time, never a run:

* a file SQLite cannot read as a database is set aside (``.corrupt-<time>``) and rebuilt;
* a read-only cache file or folder is used read-only (lookups, no stores), not set aside;
* a store that fails (disk full, the folder became read-only, ...) turns the cache off for
  the rest of the run with one warning in ``warnings``: tagging goes on.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
from pathlib import Path
from typing import Any, Iterable, Mapping, Optional, Sequence

from cliptagger.core.storage import paths
from cliptagger.core.storage.fileio import marked_read_only
from cliptagger.core.storage.sqlite_files import connect_checked, in_chunks, is_damaged, start_afresh

SCHEMA_VERSION = 2
log = logging.getLogger(__name__)

#: (size, mtime_ns, inode): what says "the same file, unchanged".
FileStamp = tuple[int, int, int]

def default_cache_path() -> Path:
    return paths.cache_dir() / "embeddings.sqlite3"


def file_stamp(path: "Path | str") -> Optional[FileStamp]:
    try:
        info = os.stat(path)
    except OSError:
        return None
    return info.st_size, info.st_mtime_ns, info.st_ino


def path_key(path: "Path | str") -> bytes:
    """The file name as stored: the file system's own bytes (lossless for any name)."""
    return os.fsencode(path)


def _writable(path: Path) -> bool:
    """There, with write permission and a write bit (honoured even for root, like read-only sidecars)."""
    return path.exists() and not marked_read_only(path)


class EmbeddingCache:
    def __init__(self, location: Optional[Path] = None) -> None:
        self.location = Path(location or default_cache_path())
        self.warnings: list[str] = []
        #: No stores (read-only file or folder, or turned off after a failure).
        self.read_only = False
        #: Neither lookups nor stores: the cache could not be opened at all, or failed.
        self.disabled = False
        self._lock = threading.Lock()
        self._db: Optional[sqlite3.Connection] = self._open()

    # ------------------------------------------------------------------ opening

    def _warn(self, message: str) -> None:
        log.info(message)  # the front end shows self.warnings; logging it too printed it twice
        self.warnings.append(message)

    def _open(self) -> Optional[sqlite3.Connection]:
        folder = self.location.parent
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            self._turn_off(f"the cache folder {folder} cannot be created ({err.strerror or err})")
            return None
        exists = self.location.exists()
        if exists and not (_writable(self.location) and _writable(folder)):
            return self._open_read_only("the cache file or its folder is read-only")
        if not exists and not _writable(folder):
            self._turn_off(f"the cache folder {folder} is read-only")
            return None
        try:
            return self._connect()
        except sqlite3.DatabaseError as err:
            if is_damaged(err):
                return self._set_aside(err)
            if getattr(err, "sqlite_errorname", "") in ("SQLITE_READONLY", "SQLITE_CANTOPEN", "SQLITE_PERM"):
                return self._open_read_only(f"it cannot be written ({err})")
            self._turn_off(f"it cannot be opened ({err})")
            return None

    def _set_aside(self, err: Exception) -> Optional[sqlite3.Connection]:
        db, message, again = start_afresh(self.location, err, self._connect, "embedding cache", "is rebuilt")
        self._warn(message)
        if again is not None:
            self._turn_off(f"it cannot be rebuilt ({again})")
        return db

    def _open_read_only(self, why: str) -> Optional[sqlite3.Connection]:
        self.read_only = True
        uri = self.location.resolve().as_uri()
        for query in ("?mode=ro", "?immutable=1"):  # immutable: no -shm needed beside the file
            try:
                db = sqlite3.connect(uri + query, uri=True, timeout=30, check_same_thread=False,
                                     isolation_level=None)
                version = db.execute("PRAGMA user_version").fetchone()[0]
                if version != SCHEMA_VERSION:
                    db.close()
                    self._turn_off(f"it is read-only and from another cliptagger version ({why})")
                    return None
                db.execute("SELECT 1 FROM embeddings LIMIT 1").fetchall()
            except sqlite3.Error:
                continue
            self._warn(f"The embedding cache {self.location} is used read-only ({why}): new embeddings "
                       "are not stored.")
            return db
        self._turn_off(f"it cannot be read ({why})")
        return None

    def _turn_off(self, why: str) -> None:
        self.disabled = self.read_only = True
        self._warn(f"The embedding cache {self.location} is off for this run: {why}. Tagging goes on "
                   "without it.")

    def _connect(self) -> sqlite3.Connection:
        db, version = connect_checked(self.location)
        try:
            if version not in (0, SCHEMA_VERSION):
                db.execute("DROP TABLE IF EXISTS embeddings")  # an older or unknown layout: rebuild
            db.execute(
                "CREATE TABLE IF NOT EXISTS embeddings ("
                " path BLOB NOT NULL, model_id TEXT NOT NULL, size INTEGER NOT NULL,"
                " mtime_ns INTEGER NOT NULL, inode INTEGER NOT NULL, dim INTEGER NOT NULL,"
                " vector BLOB NOT NULL, PRIMARY KEY (path, model_id))"
            )
            db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        except sqlite3.DatabaseError:
            db.close()
            raise
        return db

    # ------------------------------------------------------------------ use

    def lookup(self, paths_: Sequence[Path], model_id: str) -> dict[Path, Any]:
        """Cached embeddings (float32 tensors) for the paths whose file is unchanged."""
        import numpy as np
        import torch

        found: dict[Path, Any] = {}
        if self._db is None or self.disabled:
            return found
        by_key = {path_key(p): Path(p) for p in paths_}
        stamps = {key: file_stamp(path) for key, path in by_key.items()}
        keys = [key for key, stamp in stamps.items() if stamp is not None]
        try:
            with self._lock:
                for chunk, marks in in_chunks(keys):
                    rows = self._db.execute(
                        "SELECT path, size, mtime_ns, inode, dim, vector FROM embeddings"
                        f" WHERE model_id = ? AND path IN ({marks})",
                        [model_id, *chunk],
                    ).fetchall()
                    for key, size, mtime_ns, inode, dim, blob in rows:
                        if stamps.get(bytes(key)) == (size, mtime_ns, inode) and len(blob) == dim * 4:
                            vector = np.frombuffer(blob, dtype=np.float32).copy()
                            found[by_key[bytes(key)]] = torch.from_numpy(vector)
        except sqlite3.Error as err:
            self._turn_off(f"reading it failed ({err})")
            return {}
        return found

    def store(self, items: Iterable[tuple[Path, Any]], model_id: str,
              stamps: Optional[Mapping[Path, Optional[FileStamp]]] = None) -> bool:
        """Remember embeddings; False when nothing could be stored (the cache is then off).

        ``stamps``: each file's identity taken before it was decoded (the engine passes
        them); a file without one is stamped now. A file whose identity is unknown, or
        changed since its stamp was taken, is not stored.
        """
        import numpy as np

        if self._db is None or self.read_only:
            return False
        rows = []
        for path, vector in items:
            now = file_stamp(path)
            stamp = stamps.get(path, now) if stamps is not None else now
            if stamp is None or now != stamp:
                continue  # replaced or changed since it was read: the vector is not of this file
            array = np.ascontiguousarray(vector.detach().float().cpu().numpy(), dtype=np.float32)
            rows.append((path_key(path), model_id, stamp[0], stamp[1], stamp[2], int(array.shape[0]),
                         array.tobytes()))
        if not rows:
            return True
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    self._db.executemany("INSERT OR REPLACE INTO embeddings VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
                    self._db.execute("COMMIT")
                except BaseException:
                    try:
                        self._db.execute("ROLLBACK")
                    except sqlite3.Error:
                        pass
                    raise
            except (sqlite3.Error, OSError) as err:
                failed = err
            else:
                return True
        self.read_only = True  # lookups may go on; no more stores this run
        self._warn(f"The embedding cache {self.location} cannot store embeddings ({failed}); it is not "
                   "written for the rest of this run. Tagging and sidecars go on.")
        return False

    def prune(self) -> int:
        """Forget files that were moved, deleted or changed. Returns how many rows went."""
        if self._db is None or self.read_only:
            return 0
        with self._lock:
            rows = self._db.execute("SELECT DISTINCT path, size, mtime_ns, inode FROM embeddings").fetchall()
        stale = [(key,) for key, size, mtime_ns, inode in rows
                 if file_stamp(os.fsdecode(bytes(key))) != (size, mtime_ns, inode)]
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.executemany("DELETE FROM embeddings WHERE path = ?", stale)
            self._db.execute("COMMIT")
        return len(stale)

    def count(self, model_id: Optional[str] = None) -> int:
        if self._db is None:
            return 0
        with self._lock:
            if model_id is None:
                return int(self._db.execute("SELECT COUNT(*) FROM embeddings").fetchone()[0])
            return int(self._db.execute("SELECT COUNT(*) FROM embeddings WHERE model_id = ?",
                                        (model_id,)).fetchone()[0])

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
