"""The embedding cache: an image is decoded and encoded once per model.

SQLite in the cache folder, keyed by (absolute path, model id) and valid while the file's
size and mtime_ns are unchanged, with a schema version. WAL mode and a busy timeout make
it safe for two processes (the app and the CLI) at once. A cache file that SQLite cannot
read is set aside with a warning and rebuilt: it only ever costs time, never a crash.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any, Iterable, Optional, Sequence

from cliptagger.core import paths

SCHEMA_VERSION = 1
log = logging.getLogger(__name__)


def default_cache_path() -> Path:
    return paths.cache_dir() / "embeddings.sqlite3"


def file_stamp(path: "Path | str") -> Optional[tuple[int, int]]:
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return stat.st_size, stat.st_mtime_ns


class EmbeddingCache:
    def __init__(self, location: Optional[Path] = None) -> None:
        self.location = Path(location or default_cache_path())
        self.warnings: list[str] = []
        self._lock = threading.Lock()
        self._db = self._open()

    # ------------------------------------------------------------------ opening

    def _open(self) -> sqlite3.Connection:
        self.location.parent.mkdir(parents=True, exist_ok=True)
        try:
            return self._connect()
        except sqlite3.DatabaseError as err:
            aside = self.location.with_name(f"{self.location.name}.corrupt-{int(time.time())}")
            for suffix in ("", "-wal", "-shm"):
                try:
                    os.replace(str(self.location) + suffix, str(aside) + suffix)
                except OSError:
                    pass
            message = f"The embedding cache {self.location} could not be read ({err}); it was set aside as {aside.name} and is rebuilt."
            log.warning(message)
            self.warnings.append(message)
            return self._connect()

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.location, timeout=30, check_same_thread=False, isolation_level=None)
        try:
            db.execute("PRAGMA busy_timeout = 30000")
            db.execute("PRAGMA journal_mode = WAL")
            db.execute("PRAGMA synchronous = NORMAL")
            if db.execute("PRAGMA quick_check").fetchone()[0] != "ok":
                raise sqlite3.DatabaseError("integrity check failed")
            version = db.execute("PRAGMA user_version").fetchone()[0]
            if version not in (0, SCHEMA_VERSION):
                db.execute("DROP TABLE IF EXISTS embeddings")  # an unknown layout: rebuild
            db.execute(
                "CREATE TABLE IF NOT EXISTS embeddings ("
                " path TEXT NOT NULL, model_id TEXT NOT NULL, size INTEGER NOT NULL,"
                " mtime_ns INTEGER NOT NULL, dim INTEGER NOT NULL, vector BLOB NOT NULL,"
                " PRIMARY KEY (path, model_id))"
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
        by_name = {str(p): p for p in paths_}
        stamps = {name: file_stamp(name) for name in by_name}  # type: ignore[arg-type]
        keys = [name for name, stamp in stamps.items() if stamp is not None]
        with self._lock:
            for start in range(0, len(keys), 500):
                chunk = keys[start:start + 500]
                marks = ",".join("?" * len(chunk))
                rows = self._db.execute(
                    f"SELECT path, size, mtime_ns, dim, vector FROM embeddings WHERE model_id = ? AND path IN ({marks})",
                    [model_id, *chunk],
                ).fetchall()
                for name, size, mtime_ns, dim, blob in rows:
                    if stamps.get(name) == (size, mtime_ns) and len(blob) == dim * 4:
                        found[by_name[name]] = torch.from_numpy(np.frombuffer(blob, dtype=np.float32).copy())
        return found

    def store(self, items: Iterable[tuple[Path, Any]], model_id: str) -> None:
        import numpy as np

        rows = []
        for path, vector in items:
            stamp = file_stamp(Path(path))
            if stamp is None:
                continue
            array = np.ascontiguousarray(vector.detach().float().cpu().numpy(), dtype=np.float32)
            rows.append((str(path), model_id, stamp[0], stamp[1], int(array.shape[0]), array.tobytes()))
        if not rows:
            return
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.executemany("INSERT OR REPLACE INTO embeddings VALUES (?, ?, ?, ?, ?, ?)", rows)
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def prune(self) -> int:
        """Forget files that were moved, deleted or changed. Returns how many rows went."""
        with self._lock:
            rows = self._db.execute("SELECT DISTINCT path, size, mtime_ns FROM embeddings").fetchall()
        stale = [(path,) for path, size, mtime_ns in rows if file_stamp(Path(path)) != (size, mtime_ns)]
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.executemany("DELETE FROM embeddings WHERE path = ?", stale)
            self._db.execute("COMMIT")
        return len(stale)

    def count(self, model_id: Optional[str] = None) -> int:
        with self._lock:
            if model_id is None:
                return self._db.execute("SELECT COUNT(*) FROM embeddings").fetchone()[0]
            return self._db.execute("SELECT COUNT(*) FROM embeddings WHERE model_id = ?", (model_id,)).fetchone()[0]

    def close(self) -> None:
        with self._lock:
            self._db.close()
