"""The undo journal: every sidecar write batch can be taken back, byte for byte.

Write-ahead: before a sidecar is replaced, a line with its prior bytes (or "did not
exist") goes to the batch's journal file and is flushed to disk. Undo restores those
bytes, or removes files cliptagger created, but only where the file still holds what
cliptagger wrote: a later edit by another program is never clobbered.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from cliptagger.core import paths
from cliptagger.core.fileio import atomic_write_bytes


def journal_dir() -> Path:
    return paths.data_dir() / "journal"


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass
class JournalEntry:
    path: Path
    prior: Optional[bytes]   # None: the file did not exist
    written_sha256: str


class WriteBatch:
    """Opened before a batch of writes; ``record`` before each file is replaced."""

    def __init__(self, description: str = "") -> None:
        folder = journal_dir()
        folder.mkdir(parents=True, exist_ok=True)
        self.path, self._handle = _create_batch_file(folder)
        self._write({"batch": description, "started": time.time()})
        self.count = 0

    def _write(self, record: dict) -> None:
        self._handle.write(json.dumps(record) + "\n")
        self._handle.flush()
        os.fsync(self._handle.fileno())

    def record(self, path: Path, prior: Optional[bytes], new: bytes) -> None:
        self._write({
            "path": str(path),
            "prior": base64.b64encode(prior).decode("ascii") if prior is not None else None,
            "written_sha256": sha256(new),
        })
        self.count += 1

    def close(self) -> None:
        self._handle.close()
        if self.count == 0:
            self.path.unlink(missing_ok=True)

    def __enter__(self) -> "WriteBatch":
        return self

    def __exit__(self, *_exc) -> None:
        self.close()


def _sequence(path: Path) -> int:
    """A batch's position in the journal; files from before sequence numbers count as 0."""
    head = path.name.split(".", 1)[0]
    return int(head) if head.isdigit() and len(head) == SEQUENCE_DIGITS else 0


SEQUENCE_DIGITS = 12


def _create_batch_file(folder: Path):
    """Open a new batch file numbered after every batch so far (pending or undone).

    The number, not the clock, orders batches: two batches in one second, or a clock
    that steps back, still undo newest first. ``O_EXCL`` settles a race between writers.
    """
    while True:
        newest = max((_sequence(p) for p in folder.iterdir()), default=0)
        path = folder / f"{newest + 1:0{SEQUENCE_DIGITS}d}.jsonl"  # the number alone: O_EXCL must see a clash
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            continue
        return path, os.fdopen(fd, "a", encoding="utf-8")


def list_batches() -> list[Path]:
    """Batches that can still be undone, oldest first."""
    folder = journal_dir()
    if not folder.is_dir():
        return []
    return sorted(folder.glob("*.jsonl"), key=lambda p: (_sequence(p), p.name))


def read_batch(path: Path) -> list[JournalEntry]:
    entries = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue  # a line cut by a crash: the write after it never happened
        if "path" not in record:
            continue
        prior = base64.b64decode(record["prior"]) if record["prior"] is not None else None
        entries.append(JournalEntry(Path(record["path"]), prior, record["written_sha256"]))
    return entries


@dataclass
class UndoReport:
    restored: list[Path]
    removed: list[Path]
    skipped: list[tuple[Path, str]]
    batch: Optional[Path]


def undo_last_batch(force: bool = False) -> UndoReport:
    batches = list_batches()
    if not batches:
        return UndoReport([], [], [], None)
    batch = batches[-1]
    report = UndoReport([], [], [], batch)
    # Newest first, so that a file written twice in one batch ends at its first prior.
    for entry in reversed(read_batch(batch)):
        try:
            current = entry.path.read_bytes()
        except FileNotFoundError:
            current = None
        except OSError as err:
            report.skipped.append((entry.path, f"cannot read: {err.strerror}"))
            continue
        if current is None:
            if entry.prior is not None:
                atomic_write_bytes(entry.path, entry.prior)
                report.restored.append(entry.path)
            continue
        if sha256(current) != entry.written_sha256 and not force:
            report.skipped.append((entry.path, "changed since cliptagger wrote it; left as it is"))
            continue
        try:
            if entry.prior is None:
                entry.path.unlink()
                report.removed.append(entry.path)
            else:
                atomic_write_bytes(entry.path, entry.prior)
                report.restored.append(entry.path)
        except OSError as err:
            report.skipped.append((entry.path, f"cannot restore: {err.strerror}"))
    skipped_paths = {path for path, _ in report.skipped}
    if skipped_paths and not force:
        # Keep what was not undone, so `undo --force` can still take it back.
        remaining = [line for line in batch.read_text(encoding="utf-8").splitlines()
                     if '"path"' not in line or Path(json.loads(line)["path"]) in skipped_paths]
        atomic_write_bytes(batch, ("\n".join(remaining) + "\n").encode("utf-8"))
    else:
        os.replace(batch, batch.with_suffix(".undone"))
    return report
