"""The undo journal: every sidecar write batch can be taken back, byte for byte.

Write-ahead: before a sidecar is replaced, a line with its prior bytes (or "did not
exist"), the hash of those bytes (pre-image), the hash of what will be written
(post-image) and the keywords this write adds and removes goes to the batch's journal
file and is fsync'd. A write that then fails is marked abandoned.

Batches are files ``<sequence>.jsonl`` in ``<data dir>/journal``, numbered in order (not by
the clock). Undo (``cliptagger.core.metadata.undo``) takes the newest pending batch and, per
file, newest first:

* the file holds what we wrote (post-image)        -> prior bytes restored / created file removed
* the file holds the prior bytes (pre-image)        -> never written (killed, disk full): nothing to do
* anything else: changed since cliptagger wrote it  -> left alone, and kept for ``undo --force``

The files left alone are kept as ``<sequence>.held``: a later ``undo`` goes on to older
batches (a partial undo never hides them), and ``undo --force`` takes the newest batch,
pending or held. On a changed file ``--force`` is a three-way merge (the prior bytes, what
we wrote, what is there now): only the keywords this batch added are taken out (and the
ones it replaced put back); everything the user did after our write stays.

Lines are tolerated wherever they are cut or damaged (a crash mid-append): such a line
describes a write that never happened, because the sidecar is only replaced after its
journal line is on disk.
"""

from __future__ import annotations

import base64
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Optional

from cliptagger.core.metadata.containment import undo_target_problem
from cliptagger.core.metadata.journal_integrity import (
    JournalKeyError,
    Signer,
    load_key,
    verify_chain,
    writing_key,
)
from cliptagger.core.storage import paths
from cliptagger.core.storage.fileio import (
    _fsync_folder,
    sha256,
)

JOURNAL_VERSION = 3  # 3: every line signed (journal_integrity); 2: unsigned
PENDING_SUFFIX = ".jsonl"
HELD_SUFFIX = ".held"


def journal_dir() -> Path:
    return paths.data_dir() / "journal"


@dataclass
class JournalEntry:
    path: Path
    prior: Optional[bytes]   # None: the file did not exist
    written_sha256: str
    prior_sha256: Optional[str] = None
    #: Keywords this write introduced / took out (None: an old journal that did not say).
    added: Optional[list[str]] = None
    removed: Optional[list[str]] = None
    id: int = -1
    #: A photo with embedded keywords: how to rebuild its original from what was written
    #: (``undo_delta``); ``prior`` is then None and ``prior_sha256`` the original's hash.
    delta: Optional[bytes] = None
    prior_mtime_ns: Optional[int] = None

    @property
    def embedded(self) -> bool:
        return self.delta is not None

    def __post_init__(self) -> None:
        if self.prior_sha256 is None and self.prior is not None:
            self.prior_sha256 = sha256(self.prior)


class WriteBatch:
    """Opened before a batch of writes; ``record`` before each file is replaced."""

    def __init__(self, description: str = "") -> None:
        folder = journal_dir()
        folder.mkdir(parents=True, exist_ok=True)
        key = writing_key(folder, newest_batch=max((batch_sequence(p) for p in folder.iterdir()), default=0))
        self._signer = Signer(key.secret)
        self.path, self._fd = _create_batch_file(folder)
        self._broken_line = False
        self.count = 0
        self._next_id = 0
        try:
            self._write({"batch": description, "started": time.time(), "version": JOURNAL_VERSION})
        except OSError:
            os.close(self._fd)
            self.path.unlink(missing_ok=True)
            raise
        _fsync_folder(folder)  # the batch file itself survives a crash

    def _write(self, record: dict[str, Any]) -> None:
        line = json.dumps(self._signer.sign(record), ensure_ascii=True) + "\n"
        if self._broken_line:
            line = "\n" + line  # never glue a record onto a line a failed write cut short
        data = line.encode("ascii")
        try:
            written = 0
            while written < len(data):
                written += os.write(self._fd, data[written:])
            os.fsync(self._fd)
        except OSError:
            self._broken_line = True
            raise
        self._broken_line = False

    def record(self, path: Path, prior: Optional[bytes], new: bytes,
               added: Iterable[str] = (), removed: Iterable[str] = ()) -> int:
        """Log the write about to happen; returns its id (for ``abandon``)."""
        entry_id = self._next_id
        self._write({
            "id": entry_id,
            "path": os.fsdecode(os.fsencode(path)),
            "path_bytes": base64.b64encode(os.fsencode(path)).decode("ascii"),
            "prior": base64.b64encode(prior).decode("ascii") if prior is not None else None,
            "prior_sha256": sha256(prior) if prior is not None else None,
            "written_sha256": sha256(new),
            "added": list(added),
            "removed": list(removed),
        })
        self._next_id += 1
        self.count += 1
        return entry_id

    def record_embedded(self, path: Path, delta: bytes, prior_sha256: str, written_sha256: str,
                        prior_mtime_ns: int, added: Iterable[str] = (), removed: Iterable[str] = ()) -> int:
        """Log a write into a photo about to happen: the delta that rebuilds its original (the
        size of its metadata, not of the photo) and both hashes; returns its id."""
        entry_id = self._next_id
        self._write({
            "id": entry_id,
            "kind": "embedded",
            "path": os.fsdecode(os.fsencode(path)),
            "path_bytes": base64.b64encode(os.fsencode(path)).decode("ascii"),
            "prior": None,
            "delta": base64.b64encode(delta).decode("ascii"),
            "prior_sha256": prior_sha256,
            "prior_mtime_ns": int(prior_mtime_ns),
            "written_sha256": written_sha256,
            "added": list(added),
            "removed": list(removed),
        })
        self._next_id += 1
        self.count += 1
        return entry_id

    def abandon(self, entry_id: int) -> None:
        """The logged write did not happen (the file changed meanwhile, or the write failed)."""
        try:
            self._write({"abandoned": entry_id})
        except OSError:
            pass  # the pre-image hash still tells undo that this write never happened
        self.count -= 1

    def close(self) -> None:
        if self._fd < 0:
            return
        os.close(self._fd)
        self._fd = -1
        if self.count == 0:
            self.path.unlink(missing_ok=True)

    def __enter__(self) -> "WriteBatch":
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


def batch_sequence(path: Path) -> int:
    """A batch's position in the journal; files from before sequence numbers count as 0."""
    head = path.name.split(".", 1)[0]
    return int(head) if head.isdigit() and len(head) == SEQUENCE_DIGITS else 0


SEQUENCE_DIGITS = 12


def _create_batch_file(folder: Path) -> tuple[Path, int]:
    """Open a new batch file numbered after every batch so far (pending, held or undone).

    The number, not the clock, orders batches: two batches in one second, or a clock
    that steps back, still undo newest first. ``O_EXCL`` settles a race between writers.
    """
    while True:
        newest = max((batch_sequence(p) for p in folder.iterdir()), default=0)
        path = folder / f"{newest + 1:0{SEQUENCE_DIGITS}d}{PENDING_SUFFIX}"  # the number alone: O_EXCL must see a clash
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o644)
        except FileExistsError:
            continue
        return path, fd


def _batches(suffix: str) -> list[Path]:
    folder = journal_dir()
    if not folder.is_dir():
        return []
    return sorted(folder.glob(f"*{suffix}"), key=lambda p: (batch_sequence(p), p.name))


def list_batches() -> list[Path]:
    """Batches that ``undo`` can still take back, oldest first."""
    return _batches(PENDING_SUFFIX)


def held_batches() -> list[Path]:
    """What partial undos left (files changed since our write), oldest first: ``undo --force``."""
    return _batches(HELD_SUFFIX)


def batch_records(path: Path) -> list[dict[str, Any]]:
    """Every intact JSON object line of a batch file; cut or damaged lines are skipped."""
    records = []
    for line in path.read_bytes().splitlines():
        try:
            record = json.loads(line)
        except (json.JSONDecodeError, UnicodeDecodeError):
            continue  # a line cut by a crash: the write after it never happened
        if isinstance(record, dict):
            records.append(record)
    return records


def entry_from_record(record: dict[str, Any]) -> Optional[JournalEntry]:
    try:
        if "path_bytes" in record:
            path = Path(os.fsdecode(base64.b64decode(record["path_bytes"])))
        else:
            path = Path(record["path"])
        prior = base64.b64decode(record["prior"]) if record.get("prior") is not None else None
        embedded = record.get("kind") == "embedded"
        delta = base64.b64decode(record["delta"]) if embedded else None
        if embedded and not record.get("prior_sha256"):
            return None
        mtime = record.get("prior_mtime_ns")
        return JournalEntry(path, prior, str(record["written_sha256"]), record.get("prior_sha256"),
                            record.get("added"), record.get("removed"), int(record.get("id", -1)),
                            delta, int(mtime) if isinstance(mtime, int) else None)
    except (KeyError, TypeError, ValueError):
        return None


def read_batch(path: Path) -> list[JournalEntry]:
    """The writes of a batch that undo may take back, in order, without the ones marked
    abandoned (``checked_batch`` also says which lines were refused, and why)."""
    return checked_batch(path)[0]


def checked_batch(path: Path) -> tuple[list[JournalEntry], list[tuple[Path, str]]]:
    """(entries undo may take back, (path, why) of entries refused: not cliptagger's own
    line, or naming a file cliptagger never writes)."""
    records = batch_records(path)
    trusted, why_not = trusted_lines(path, records)
    abandoned = {r["abandoned"] for r, ok in zip(records, trusted) if ok and "abandoned" in r}
    entries, refused = [], []
    for record, ok in zip(records, trusted):
        if "path" not in record and "path_bytes" not in record:
            continue
        entry = entry_from_record(record)
        if entry is None:
            continue
        problem = why_not if not ok else undo_target_problem(entry.path, photo=entry.embedded)
        if problem:
            refused.append((entry.path, f"refused: {problem}"))
        elif not (entry.id >= 0 and entry.id in abandoned):
            entries.append(entry)
    return entries, refused


def trusted_lines(batch: Path, records: list[dict[str, Any]]) -> tuple[list[bool], str]:
    """Which records are cliptagger's own, and what to say of the others."""
    try:
        key = load_key(batch.parent)
    except JournalKeyError as err:
        return [False] * len(records), str(err)
    signed = any(r.get("version", 0) >= 3 for r in records if "batch" in r and isinstance(r.get("version"), int))
    if signed or (key is not None and batch_sequence(batch) > key.legacy_until):
        why = "the journal line fails its integrity check (not written by cliptagger, or edited since)"
        return verify_chain(records, key.secret if key is not None else None), why
    return [True] * len(records), ""  # a batch from before signing: containment alone


def describe(batch: Path) -> str:
    """``<sequence>  <when>  N sidecar(s) in FOLDER  <what wrote them>`` (held: left alone by a partial undo)."""
    entries = read_batch(batch)
    header = next((r for r in batch_records(batch) if "batch" in r), {})
    when = time.strftime("%Y-%m-%d %H:%M", time.localtime(header["started"])) if header.get("started") else "?"
    folders = sorted({str(e.path.parent) for e in entries})
    where = folders[0] if len(folders) == 1 else f"{len(folders)} folders" if folders else "no folder"
    what = f"  ({header['batch']})" if header.get("batch") else ""
    state = "  [left alone by a partial undo; `undo --force` removes only cliptagger's keywords]" \
        if batch.suffix == HELD_SUFFIX else ""
    photos = sum(1 for e in entries if e.embedded)
    files = " and ".join(part for part in (f"{len(entries) - photos} sidecar(s)" if photos < len(entries) else "",
                                           f"{photos} photo(s)" if photos else "") if part)
    return f"{batch.name.split('.', 1)[0]}  {when}  {files or '0 sidecar(s)'} in {where}{what}{state}"


__all__ = [
    "JournalEntry",
    "WriteBatch",
    "held_batches",
    "journal_dir",
    "list_batches",
    "read_batch",
]
